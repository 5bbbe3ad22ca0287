import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Contract } from "ethers";
import { type RunEvent, createProvider, decodeRunEvent, loadArtifact, startAnvil } from "../../node/chain/index.ts";
import type { TestnetSummary } from "../../node/testnet/index.ts";
import { type Run, alive, nodePids, start } from "./testnet-process.ts";

/** The hash each node committed for each round, from its log (every line of both runs). */
function loggedHashes(dir: string): Map<string, Map<number, string>> {
  const out = new Map<string, Map<number, string>>();
  for (const name of readdirSync(dir)) {
    const log = join(dir, name, `${name}.log`);
    if (!existsSync(log)) continue;
    const hashes = new Map<number, string>();
    for (const line of readFileSync(log, "utf8").split("\n")) {
      if (!line.startsWith("{")) continue;
      const l = JSON.parse(line) as { msg?: string; round?: number; hash?: string };
      if (typeof l.round !== "number" || typeof l.hash !== "string") continue;
      // Each carries H(θ_{r+1}) for round r (as the testnet's observer reads them).
      if (l.msg === "outer step applied" || l.msg === "round scored" || l.msg === "caught up one round")
        hashes.set(l.round, l.hash);
      // A catch-up that starts from a recorded checkpoint holds θ_r at round r: round r − 1's result.
      if (l.msg === "loaded on-chain checkpoint") hashes.set(l.round - 1, l.hash);
    }
    out.set(name, hashes);
  }
  return out;
}

const summaryOf = (run: Run) => JSON.parse(run.lines[run.lines.length - 1]) as TestnetSummary;

/**
 * `npm start` stopped and started again on the same data dir (docs/testnet.md "Resume"): anvil reloads
 * its dumped state, the nodes their LevelDBs, and the run trains on. Nano preset, 12 s rounds.
 */
describe("cotrain testnet resume", () => {
  const dir = mkdtempSync(join(tmpdir(), "cotrain-resume-"));
  const runs: Run[] = [];
  let passed = false;
  after(async () => {
    for (const r of runs) if (r.child.exitCode === null) process.kill(-(r.child.pid as number), "SIGTERM");
    await Promise.all(runs.map((r) => r.exited));
    for (const pid of nodePids(dir)) if (alive(pid)) process.kill(pid, "SIGKILL");
    // The nodes' logs are what explains a failure: kept then.
    if (passed) rmSync(dir, { recursive: true, force: true });
    else console.log(`# logs kept in ${dir}`);
  });
  const args = (rounds: number) => [
    "--rounds",
    String(rounds),
    "--preset",
    "nano",
    "--data-dir",
    dir,
    "--anvil-port",
    "0",
    "--explorer-port",
    "0",
  ];

  it("after a stop and restart every node agrees on every finalized hash, every peer is included, the loss falls", async () => {
    const first = start(args(2));
    runs.push(first);
    assert.equal(await first.exited, 0, first.lines.join("\n"));
    const before = summaryOf(first);
    assert.equal(before.model_hash_agreed, true, first.lines.join("\n"));
    assert.ok(before.heldout_loss_last !== null);
    for (const pid of nodePids(dir)) assert.equal(alive(pid), false, `process ${pid} still running after the stop`);

    const second = start(args(3));
    runs.push(second);
    const deployment = JSON.parse(readFileSync(join(dir, "deployment.json"), "utf8")) as {
      address: string;
      block: number;
    };
    assert.match(
      await second.waitFor(/^(resumed|deployed) run/, 60_000),
      new RegExp(`^resumed run .* at ${deployment.address}`),
    );
    // The round the network stood at when its nodes were up again: peers trained only from there on.
    const restartRound = Number(/^round (\d+);/.exec(await second.waitFor(/^round \d+;/, 120_000))?.[1]);
    assert.equal(await second.exited, 0, second.lines.join("\n"));
    const resumed = summaryOf(second);
    assert.equal(resumed.rounds_finalized, 3);
    assert.equal(resumed.model_hash_agreed, true, second.lines.join("\n"));
    assert.ok(resumed.heldout_loss_last !== null);
    assert.ok(
      resumed.heldout_loss_last < before.heldout_loss_last,
      `held-out loss before the stop ${before.heldout_loss_last}, after the restart ${resumed.heldout_loss_last}`,
    );
    for (const pid of nodePids(dir)) assert.equal(alive(pid), false, `process ${pid} still running after the stop`);

    // The chain as anvil dumped it on the way out: every finalized round, its hash and included peers.
    const anvil = await startAnvil({ extraArgs: ["--load-state", join(dir, "anvil-state.json")] });
    let finalized: Array<Extract<RunEvent, { name: "RoundFinalized" }>["args"]>;
    try {
      const provider = createProvider(anvil.rpcUrl);
      const contract = new Contract(deployment.address, loadArtifact("TrainingRun").abi, provider);
      const logs = await contract.queryFilter("RoundFinalized", deployment.block);
      finalized = logs
        .map((l) => decodeRunEvent(contract.interface, l))
        .flatMap((e) => (e?.name === "RoundFinalized" ? [e.args] : []));
      provider.destroy();
    } finally {
      await anvil.stop();
    }

    const hashes = loggedHashes(dir);
    assert.deepEqual([...hashes.keys()].sort(), ["peer-0", "peer-1", "peer-2", "validator-0"]);
    const after = finalized.filter((f) => f.round > restartRound);
    assert.ok(
      after.length >= 1,
      `rounds finalized: ${finalized.map((f) => f.round).join(", ")}; restart at ${restartRound}`,
    );
    for (const f of finalized) {
      const chain = f.modelHash.toLowerCase().replace(/^0x/, "");
      for (const [name, h] of hashes) {
        // Every node applied, replayed or loaded (checkpoint) θ of every finalized round: a node stuck
        // until some later checkpoint has no hash for the rounds in between.
        const mine = h.get(f.round);
        assert.ok(mine !== undefined, `${name} logged no hash for round ${f.round}`);
        assert.ok(chain.startsWith(mine), `${name} round ${f.round}: ${mine} vs ${chain}`);
      }
    }
    // After the restart the validator included an update from every peer in every round it finalized.
    for (const f of after)
      assert.deepEqual([...f.included].sort(), [0, 1, 2], `round ${f.round} included ${f.included}`);
    passed = true;
  });
});
