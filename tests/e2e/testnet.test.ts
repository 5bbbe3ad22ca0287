import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { anvilKey } from "../../node/chain/index.ts";
import { runConfigHash, runConfigSchema } from "../../node/config/index.ts";
import type { TestnetSummary } from "../../node/testnet/index.ts";
import { type Run, alive, cli, nodePids, rpcAnswers, rpcOf, start } from "./testnet-process.ts";

/**
 * `npm start` end to end on real parts (anvil, the contract, a validator and three peers as separate
 * processes, the explorer), nano preset with 12 s rounds so the whole file stays near two minutes.
 */
describe("cotrain testnet", () => {
  const dir = mkdtempSync(join(tmpdir(), "cotrain-testnet-"));
  const runs: Run[] = [];
  after(async () => {
    // Whatever happened, no process outlives the test: SIGTERM lets the testnet stop its children.
    for (const r of runs) if (r.child.exitCode === null) process.kill(-(r.child.pid as number), "SIGTERM");
    await Promise.all(runs.map((r) => r.exited));
    for (const pid of nodePids(dir)) if (alive(pid)) process.kill(pid, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("--rounds 3 finalizes three rounds, the models agree, the held-out loss falls, the explorer serves", async () => {
    const run = start([
      "--rounds",
      "3",
      "--preset",
      "nano",
      "--data-dir",
      dir,
      "--anvil-port",
      "0",
      "--explorer-port",
      "0",
    ]);
    runs.push(run);
    const rpc = rpcOf(await run.waitFor(/^deployed run/, 60_000));
    const url = (await run.waitFor(/^explorer: http/, 60_000)).replace(/^explorer: /, "").trim();
    // While the network runs, the explorer answers with its page and its JSON API.
    await run.waitFor(/^round \d+ finalized/, 90_000);
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/i);

    assert.equal(await run.exited, 0, run.lines.join("\n"));
    const summary = JSON.parse(run.lines[run.lines.length - 1]) as TestnetSummary;
    assert.deepEqual(Object.keys(summary), [
      "rounds_finalized",
      "peers",
      "validators",
      "model_hash_agreed",
      "heldout_loss_first",
      "heldout_loss_last",
      "explorer_url",
      "utilization",
    ]);
    assert.equal(summary.rounds_finalized, 3);
    assert.equal(summary.peers, 3);
    assert.equal(summary.validators, 1);
    assert.equal(summary.model_hash_agreed, true, run.lines.join("\n"));
    assert.ok(summary.heldout_loss_first !== null && summary.heldout_loss_last !== null);
    assert.ok(
      summary.heldout_loss_last < summary.heldout_loss_first,
      `held-out loss ${summary.heldout_loss_first} → ${summary.heldout_loss_last}`,
    );
    assert.equal(summary.explorer_url, url);
    assert.deepEqual(Object.keys(summary.utilization).sort(), ["peer-0", "peer-1", "peer-2"]);
    for (const [peer, u] of Object.entries(summary.utilization))
      assert.ok(u === null || (u > 0 && u <= 1), `${peer} utilization ${u}`);
    for (const pid of nodePids(dir)) assert.equal(alive(pid), false, `process ${pid} still running`);
    assert.equal(await rpcAnswers(rpc), false, "anvil still answers");
  });

  it("a second start resumes the same run, and Ctrl-C (SIGINT to the process group) stops every process", async () => {
    const deployment = JSON.parse(readFileSync(join(dir, "deployment.json"), "utf8")) as { address: string };
    const run = start(["--preset", "nano", "--data-dir", dir, "--anvil-port", "0", "--explorer-port", "0"]);
    runs.push(run);
    const first = await run.waitFor(/^(resumed|deployed) run/, 60_000);
    assert.match(first, new RegExp(`^resumed run .* at ${deployment.address}`));
    const rpc = rpcOf(first);
    const line = await run.waitFor(/^round \d+ finalized/, 90_000);
    assert.ok(Number(/^round (\d+)/.exec(line)?.[1]) >= 3, line);

    // The operator commands against the live chain: status reads it; join refuses a network file whose
    // chain id or config hash the chain contradicts (the file itself is valid, so only the chain can tell).
    const status = await cli(["status", "--network", join(dir, "join.json"), "--json"]);
    assert.equal(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout) as { round: number; lastFinalized: number; peers: number; validators: number };
    assert.ok(s.lastFinalized >= 3 && s.peers === 3 && s.validators === 1, status.stdout);
    const net = JSON.parse(readFileSync(join(dir, "join.json"), "utf8")) as Record<string, unknown> & {
      runConfig: { runId: string };
    };
    const otherRun = runConfigSchema.parse({ ...net.runConfig, runId: "another-run" });
    writeFileSync(join(dir, "wrong-chain.json"), JSON.stringify({ ...net, chainId: 31338 }));
    writeFileSync(
      join(dir, "wrong-run.json"),
      JSON.stringify({ ...net, runConfig: otherRun, configHash: runConfigHash(otherRun) }),
    );
    writeFileSync(join(dir, "joiner.hex"), `${anvilKey(9)}\n`);
    const joinWith = (f: string) =>
      cli([
        "join",
        join(dir, f),
        "--key",
        join(dir, "joiner.hex"),
        "--data-dir",
        join(dir, "joiner"),
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
      ]);
    const [badChain, badRun] = await Promise.all([joinWith("wrong-chain.json"), joinWith("wrong-run.json")]);
    assert.notEqual(badChain.code, 0);
    assert.match(
      badChain.stderr,
      /^cotrain: invalid configuration: network\.chainId: the file says 31338 but .* is chain 31337\n$/,
    );
    assert.notEqual(badRun.code, 0);
    assert.match(
      badRun.stderr,
      /^cotrain: invalid configuration: network\.configHash: the file says 0x[0-9a-f]{64} but the contract holds 0x[0-9a-f]{64}\n$/,
    );

    const stateFile = join(dir, "anvil-state.json");
    const before = statSync(stateFile).mtimeMs;
    // What a terminal does on Ctrl-C: the testnet, its node processes and anvil all get SIGINT at once.
    process.kill(-(run.child.pid as number), "SIGINT");
    assert.equal(await run.exited, 0);
    assert.match(run.lines.join("\n"), /stopped; state kept/);
    assert.ok(statSync(stateFile).mtimeMs > before, "anvil dumped its state on the way out");
    for (const pid of nodePids(dir)) assert.equal(alive(pid), false, `process ${pid} still running`);
    assert.equal(await rpcAnswers(rpc), false, "anvil still answers");
  });
});
