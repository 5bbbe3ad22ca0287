import assert from "node:assert/strict";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Wallet } from "ethers";
import { TrainingRunClient, createProvider } from "../../node/chain/index.ts";
import { deriveFromRound } from "../../node/cli/commands/operator.ts";
import { type RunConfig, runConfigHash, runConfigSchema } from "../../node/config/index.ts";
import { prepareDataset } from "../../node/data/index.ts";
import { parseHash32 } from "../../node/hash/index.ts";
import { LocalNetwork } from "../../node/testnet/network.ts";
import { readLog } from "../../node/testnet/processes.ts";
import { chainNow, logLines, modelHashes, nodeAddress, sleepMs } from "../fixtures/e2e-helpers.ts";

/**
 * Issue 17's end-to-end test, on real parts (anvil, libp2p over 127.0.0.1, LevelDB, tfjs wasm, nano
 * GPT, separate `cotrain` processes): a run deployed on Brown without data stages; while it runs, the
 * operator writes the config with a second stage (the ethers-ts TypeScript corpus, re-warm + re-decay,
 * 5 % replay of Brown) into the nodes' run config file and appends its hash to the contract's config
 * timeline. Every node switches at the stage's round, every finalized hash agrees with the chain, and a
 * peer that joins after the switch catches up to the same hashes and trains on the second corpus.
 */
const ROUND = 12;
const SUBMISSION = 3;
const SCORING = 11;
const H = 4;
const BATCH = 8;
/** Finalized rounds past the switch before the test stops watching. */
const AFTER_SWITCH = 3;
const BROWN_DIR = join(tmpdir(), "cotrain-dataset-brown");
const DATASETS_ROOT = join(tmpdir(), "cotrain-datasets-continual");

describe("continual pre-training: a stage appended to a live run", { timeout: 300_000 }, () => {
  let dir: string;
  let net: LocalNetwork;
  let client: TrainingRunClient;
  let closeClient: () => void;
  let brown: string;
  let ethersTs: string;
  let switchRound = -1;
  let joinedAtRound = -1;
  let staged: RunConfig;
  const chainHash = new Map<number, string>();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "cotrain-e2e-continual-"));
    brown = prepareDataset(BROWN_DIR).manifestHash;
    ethersTs = prepareDataset(join(DATASETS_ROOT, "ethers-ts"), { corpus: "ethers-ts" }).manifestHash;
    net = await LocalNetwork.start({
      dir,
      peers: 3, // keys for 3 peers; peer-2 joins after the switch
      validators: 1,
      backend: "wasm",
      logLevel: "info",
      datasetDir: BROWN_DIR,
      anvilPort: 0,
      blockTime: 1,
      run: {
        runId: "e2e-continual",
        model: { preset: "nano" },
        train: { innerSteps: H, batchSize: BATCH },
        dataset: { manifestHash: brown },
        validator: { checkpointEvery: 2, heldoutSamples: 8, ownSamples: 8 },
      },
      deploy: {
        roundSeconds: ROUND,
        submissionSeconds: SUBMISSION,
        scoringSeconds: SCORING,
        genesisDelaySeconds: 10,
        gatherSize: 16,
      },
    });
    ({ client, close: closeClient } = net.client());
    const extra = { datasetsRoot: DATASETS_ROOT };
    await net.startNode("validator", 0, extra);
    await Promise.all([net.startNode("peer", 0, extra), net.startNode("peer", 1, extra)]);

    // The operator (the deployer) appends stage 2 two rounds ahead: first the file every node reads,
    // then the hash on chain (appendConfig needs fromRound ≥ currentRound + 2).
    const provider = createProvider(net.anvil.rpcUrl);
    try {
      const operator = new TrainingRunClient(
        { address: net.deployment.address },
        { runner: new Wallet(net.anvil.accounts[0], provider) },
      );
      switchRound = Math.max(0, await operator.currentRound()) + 2;
      staged = runConfigSchema.parse({
        ...net.run,
        data: {
          stages: [
            { dataset: brown, startRound: 0, schedule: { kind: "continue" }, replay: 0 },
            {
              dataset: ethersTs,
              startRound: switchRound,
              schedule: { kind: "rewarm", peakLr: 3e-3, warmupSteps: 4, totalSteps: 200, minLrRatio: 0.1 },
              replay: 0.05,
            },
          ],
        },
      });
      const file = join(dir, "run.json");
      writeFileSync(`${file}.tmp`, JSON.stringify(staged, null, 2));
      renameSync(`${file}.tmp`, file);
      // The operator CLI's rule: the appended config starts at its first new stage.
      assert.equal(deriveFromRound(staged, file, await operator.configTimeline()), switchRound);
      await operator.appendConfig(switchRound, runConfigHash(staged));
    } finally {
      provider.destroy();
    }

    const genesis = net.deployment.params.genesis;
    const deadlineMs = Date.now() + 200_000;
    while (Date.now() < deadlineMs) {
      await sleepMs(1000);
      const last = await client.lastFinalizedRound();
      if (last !== null) {
        for (let r = 0; r <= last; r++) {
          const h = chainHash.has(r) ? null : await client.modelHashOf(r);
          if (h) chainHash.set(r, parseHash32(h, `modelHashOf(${r})`));
        }
      }
      const round = Math.floor(((await chainNow(client)) - genesis) / ROUND);
      if (joinedAtRound < 0 && round >= switchRound + 1) {
        joinedAtRound = round;
        await net.startNode("peer", 2, extra);
      }
      for (const n of net.nodes.values())
        assert.equal(n.child.exitCode, null, `${n.name} exited early; see ${n.logFile}`);
      if (last !== null && last >= switchRound + AFTER_SWITCH && joinedAtRound >= 0) break;
    }
    // Give every peer one round to log the last finalized round's hash.
    const last = Math.max(...chainHash.keys());
    const applied = (i: number) => [...modelHashes(readLog(net.nodes.get(`peer-${i}`)!)).keys()].some((r) => r >= last);
    const settleMs = Date.now() + ROUND * 1000;
    while (Date.now() < settleMs && ![0, 1, 2].every(applied)) await sleepMs(500);
  });

  after(async () => {
    closeClient?.();
    await net?.stop();
    if (process.env.COTRAIN_KEEP_E2E) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });

  it("the chain's timeline holds the appended config from the switch round", async () => {
    assert.ok(switchRound >= 2, `switch at round ${switchRound}`);
    const timeline = await client.configTimeline();
    assert.deepEqual(timeline.at(-1), { fromRound: switchRound, configHash: runConfigHash(staged) });
    const last = await client.lastFinalizedRound();
    assert.ok(last !== null && last >= switchRound + AFTER_SWITCH - 1, `last finalized ${last}, switch ${switchRound}`);
  });

  it("every peer's model hash equals the chain's for every finalized round, before and after the switch", () => {
    assert.ok(
      [...chainHash.keys()].some((r) => r >= switchRound),
      "rounds after the switch finalized",
    );
    for (let i = 0; i < 3; i++) {
      const hashes = modelHashes(readLog(net.nodes.get(`peer-${i}`)!));
      for (const [r, hash] of hashes) {
        const want = chainHash.get(r);
        if (want !== undefined) assert.equal(hash, want, `peer-${i} round ${r}`);
      }
      // A peer holds a state from the round it started in (the late joiner: joined in), or the next one
      // when it started so slowly that a newer checkpoint was recorded meanwhile (seen on a loaded box);
      // from there on it has every finalized round.
      const started = i === 2 ? joinedAtRound : 0;
      const first = Math.min(...hashes.keys());
      assert.ok(first <= started + 1, `peer-${i} started in round ${started}, first held ${first}`);
      const from = Math.max(first, started);
      for (const r of chainHash.keys())
        if (r >= from) assert.ok(hashes.has(r), `peer-${i} has no hash for finalized round ${r}`);
    }
  });

  it("peers train on Brown before the switch and on the second corpus (stage 2) from it", () => {
    for (let i = 0; i < 3; i++) {
      const published = logLines(net.nodes.get(`peer-${i}`)!, "update published");
      assert.ok(published.length >= 1, `peer-${i} published`);
      for (const l of published) {
        const want = (l.round as number) < switchRound ? { index: 0, dataset: brown } : { index: 1, dataset: ethersTs };
        assert.deepEqual(l.stage, want, `peer-${i} round ${l.round}`);
      }
      if (i < 2)
        assert.ok(
          published.some((l) => (l.round as number) >= switchRound),
          `peer-${i} published after the switch`,
        );
    }
  });

  it("the late joiner caught up after the switch and its updates were aggregated", () => {
    assert.ok(joinedAtRound > switchRound, `joined at ${joinedAtRound}`);
    const node = net.nodes.get("peer-2")!;
    assert.ok(
      logLines(node, "caught up one round").length + logLines(node, "loaded on-chain checkpoint").length > 0,
      "peer-2 caught up",
    );
    const addr = nodeAddress(net, "peer", 2);
    const scored = logLines(net.nodes.get("validator-0")!, "round scored");
    assert.ok(
      scored.some((l) => (l.gathered as string[]).includes(addr)),
      "peer-2's update was aggregated",
    );
  });

  it("every node picked up the appended config while running", () => {
    for (const name of ["validator-0", "peer-0", "peer-1", "peer-2"]) {
      const inForce = logLines(net.nodes.get(name)!, "run config in force");
      assert.ok(
        inForce.some((l) => l.fromRound === switchRound && l.stages === 2),
        `${name} logged the stage-2 config in force`,
      );
    }
  });
});
