import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LocalNetwork } from "../../node/testnet/network.ts";
import { readLog } from "../../node/testnet/processes.ts";
import {
  type LogLine,
  type RoundEvents,
  chainNow,
  logLines,
  modelHashes,
  nodeAddress,
  roundEvents,
  sleepMs,
  startPeers,
} from "../fixtures/e2e-helpers.ts";

/**
 * EF warm-up rounds on the real network (run config `sparseloco.denseRounds`, docs/learning.md): rounds
 * 0 … WARMUP−1 send dense payloads (every value of every chunk, 2-bit: ~22× a sparse payload, above the
 * inline limit, so fetched over the blob protocol), later rounds sparse ones. 2 honest peers, 1 peer
 * that copies another's payload every round, 1 validator. Pass: every round finalizes, the honest peers
 * hold the chain's hashes, payload sizes follow the warm-up, and in a warm-up round — where index overlap
 * sees nothing — the copier is scored a copy and paid nothing while the honest peers are paid.
 */
const ROUND = 15;
const LAST = 3;
const WARMUP = 2;
const DATASET = join(tmpdir(), "cotrain-dataset-brown");
const RUN = {
  runId: "e2e-warmup",
  model: { preset: "nano" as const },
  train: { innerSteps: 6, batchSize: 8 },
  sparseloco: { denseRounds: WARMUP },
  validator: { heldoutSamples: 8, ownSamples: 8 },
};
// a long genesis delay: every node is up before round 0, the first warm-up round
const DEPLOY = {
  roundSeconds: ROUND,
  submissionSeconds: 3,
  scoringSeconds: 15,
  genesisDelaySeconds: 25,
  gatherSize: 3,
};
const HONEST = 2;

interface Result {
  events: RoundEvents;
  scored: LogLine[];
  published: Map<string, LogLine[]>;
  hashes: Map<string, Map<number, string>>;
  honest: string[];
  copier: string;
}

describe("EF warm-up rounds: dense payloads over the blob protocol, copies caught by level agreement", {
  timeout: 300_000,
}, () => {
  let r: Result;
  const dir = mkdtempSync(join(tmpdir(), "cotrain-e2e-warmup-"));

  before(async () => {
    const net = await LocalNetwork.start({
      dir,
      peers: HONEST + 1,
      validators: 1,
      backend: "wasm",
      logLevel: "info",
      datasetDir: DATASET,
      anvilPort: 0,
      blockTime: 1,
      run: RUN,
      deploy: DEPLOY,
    });
    const { client, close } = net.client();
    try {
      const validator = await net.startNode("validator", 0);
      await startPeers(net, HONEST, ["copy"]);
      const genesis = net.deployment.params.genesis;
      const until = Date.now() + 200_000;
      for (;;) {
        assert.ok(Date.now() < until, `round ${LAST} not finalized in time`);
        await sleepMs(1000);
        for (const n of net.nodes.values())
          assert.equal(n.child.exitCode, null, `${n.name} exited early; see ${n.logFile}`);
        assert.ok((await chainNow(client)) - genesis < (LAST + 4) * ROUND, "the run fell behind");
        const last = await client.lastFinalizedRound();
        if (last !== null && last >= LAST) break;
      }
      const addr = (i: number) => nodeAddress(net, "peer", i);
      const published = new Map<string, LogLine[]>();
      const hashes = new Map<string, Map<number, string>>();
      for (let i = 0; i < HONEST; i++) {
        const node = net.nodes.get(`peer-${i}`)!;
        published.set(addr(i), logLines(node, "update published"));
        hashes.set(addr(i), modelHashes(readLog(node)));
      }
      r = {
        events: await roundEvents(client, net.deployment.block),
        scored: logLines(validator, "update scored"),
        published,
        hashes,
        honest: Array.from({ length: HONEST }, (_, i) => addr(i)),
        copier: addr(HONEST),
      };
      close();
      await net.stop();
    } catch (err) {
      close();
      await net.stop();
      throw err;
    }
  });

  after(() => {
    if (!process.env.COTRAIN_KEEP_E2E) rmSync(dir, { recursive: true, force: true });
  });

  it("every round 0..LAST finalizes with the validator's submission", () => {
    for (let round = 0; round <= LAST; round++) {
      assert.ok(r.events.finalized.has(round), `round ${round} not finalized`);
      assert.equal(r.events.submissions.get(round)?.size, 1, `round ${round}: submissions`);
    }
  });

  it("the honest peers hold the chain's hash of every round from the first they hold", () => {
    for (const [peer, held] of r.hashes) {
      const first = Math.min(...held.keys());
      assert.ok(first < WARMUP, `${peer} first holds round ${first}`);
      for (let round = first; round <= LAST; round++)
        assert.equal(held.get(round), r.events.finalized.get(round), `${peer} round ${round}`);
    }
  });

  it("warm-up payloads are dense (> 256 KiB, the inline limit), later ones sparse", () => {
    const sizes = [...r.published.values()]
      .flat()
      .map((l) => ({ round: Number(l.round), bytes: Number(l.payloadBytes) }));
    assert.ok(sizes.some((s) => s.round < WARMUP) && sizes.some((s) => s.round >= WARMUP), JSON.stringify(sizes));
    for (const s of sizes)
      if (s.round < WARMUP) assert.ok(s.bytes > 400_000, `round ${s.round}: ${s.bytes} bytes`);
      else assert.ok(s.bytes < 20_000, `round ${s.round}: ${s.bytes} bytes`);
  });

  it("in a warm-up round the copier is scored a copy and paid nothing; the honest peers are paid", () => {
    const verdict = (round: number, address: string) =>
      r.scored.find((l) => l.round === round && String(l.peer).toLowerCase() === address)?.reason;
    const rounds = Array.from({ length: WARMUP }, (_, round) => round).filter(
      (round) => verdict(round, r.copier) !== undefined,
    );
    assert.ok(rounds.length > 0, `the copier's warm-up updates were not scored: ${JSON.stringify(r.scored)}`);
    for (const round of rounds) {
      assert.equal(verdict(round, r.copier), "copy", `round ${round}`);
      const paid = r.events.rewards.get(round) ?? new Map<string, bigint>();
      assert.equal(paid.get(r.copier) ?? 0n, 0n, `round ${round}: the copier was paid`);
      for (const h of r.honest)
        if (verdict(round, h) === "ok") assert.ok((paid.get(h) ?? 0n) > 0n, `round ${round}: ${h} not paid`);
      assert.ok(
        r.honest.some((h) => (paid.get(h) ?? 0n) > 0n),
        `round ${round}: no honest peer paid`,
      );
    }
  });
});
