import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type JsonRpcProvider, Wallet } from "ethers";
import { type AnvilInstance, TrainingRunClient, createProvider, startAnvil } from "../../node/chain/index.ts";
import { runDeploy } from "../../node/cli/commands/deploy.ts";
import {
  type AppendConfigFlags,
  runAcceptOperator,
  runAppendConfig,
  runTimeline,
  runTransferOperator,
} from "../../node/cli/commands/operator.ts";
import { CliError } from "../../node/cli/errors.ts";
import { runCli } from "../../node/cli/run.ts";
import { runConfigHash, runConfigSchema } from "../../node/config/index.ts";

/** `cotrain run append-config / transfer-operator / accept-operator / timeline` against a real anvil. */
describe("cotrain run (operator commands) on anvil", () => {
  let anvil: AnvilInstance;
  let provider: JsonRpcProvider;
  let dir: string;
  let deployment: string;
  let client: TrainingRunClient;
  let genesis: number;
  const ROUND = 10;
  // v1 was deployed without stages; v2 appends a second corpus from round 8, v3 a third from round 12.
  const [D1, D2, D3] = ["d1", "d2", "d3"].map((c) => c.repeat(32));
  const rewarm = { kind: "rewarm", peakLr: 0.001, warmupSteps: 2, totalSteps: 40, minLrRatio: 0.1 } as const;
  const base = { runId: "operator-test", dataset: { manifestHash: D1 } };
  const stage0 = { dataset: D1, startRound: 0, schedule: { kind: "continue" }, replay: 0 } as const;
  const stage1 = { dataset: D2, startRound: 8, schedule: rewarm, replay: 0.05 };
  const stage2 = { dataset: D3, startRound: 12, schedule: rewarm, replay: 0.05 };
  const v1 = runConfigSchema.parse(base);
  const v2 = runConfigSchema.parse({ ...base, data: { stages: [stage0, stage1] } });
  const v3 = runConfigSchema.parse({ ...base, data: { stages: [stage0, stage1, stage2] } });
  const file = (name: string) => join(dir, name);
  const flags = (over: Partial<AppendConfigFlags> = {}): AppendConfigFlags => ({
    rpc: anvil.rpcUrl,
    deployment,
    key: file("operator.key"),
    runConfig: file("v2.json"),
    ...over,
  });
  const rejects = (p: Promise<unknown>, re: RegExp) =>
    assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof CliError, String(e));
      assert.match(e.message, re);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
  const setTime = async (t: number) => {
    await provider.send("evm_setNextBlockTimestamp", [t]);
    await provider.send("evm_mine", []);
  };

  before(async () => {
    anvil = await startAnvil({ accounts: 2 });
    provider = createProvider(anvil.rpcUrl, { pollingIntervalMs: 50 });
    dir = await mkdtemp(join(tmpdir(), "cotrain-operator-"));
    await writeFile(file("operator.key"), anvil.accounts[0]);
    await writeFile(file("other.key"), anvil.accounts[1]);
    for (const [name, cfg] of [
      ["v1.json", v1],
      ["v2.json", v2],
      ["v3.json", v3],
    ] as const)
      await writeFile(file(name), JSON.stringify(cfg));
    await writeFile(
      file("params.json"),
      JSON.stringify({
        genesisDelaySeconds: 100,
        roundSeconds: ROUND,
        submissionSeconds: 1,
        scoringSeconds: 2,
        unstakeDelay: 30,
      }),
    );
    deployment = file("deployment.json");
    const dep = await runDeploy({
      rpc: anvil.rpcUrl,
      key: file("operator.key"),
      config: file("params.json"),
      runConfig: file("v1.json"),
      out: deployment,
    });
    genesis = dep.params.genesis;
    client = new TrainingRunClient({ address: dep.address }, { runner: provider });
  });

  after(async () => {
    provider?.destroy();
    await anvil?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("refusals name the field, the round or both addresses, and send nothing", async () => {
    const operator = new Wallet(anvil.accounts[0]).address;
    const other = new Wallet(anvil.accounts[1]).address;
    await setTime(genesis + 4 * ROUND + 1); // round 4: the earliest is 6
    await rejects(runAppendConfig(flags({ fromRound: "x" })), /from-round: "x" is not a round number/);
    await rejects(
      runAppendConfig(flags({ fromRound: "9" })),
      /from-round: 9 is not the round .* first new stage starts \(8\)/,
    );
    await writeFile(
      file("early.json"),
      JSON.stringify({ ...base, data: { stages: [stage0, { ...stage1, startRound: 5 }] } }),
    );
    await rejects(
      runAppendConfig(flags({ runConfig: file("early.json") })),
      /round 5 is too soon; the earliest round .* is 6/,
    );
    await rejects(
      runAppendConfig(flags({ key: file("other.key") })),
      new RegExp(`${other} is not the run's operator ${operator}`),
    );
    await rejects(
      runAppendConfig(flags({ runConfig: file("v1.json") })),
      /every stage of .* already on the run's config timeline/,
    );
    // Anything but stages appended to the config on chain is refused: here the runId changed too.
    await writeFile(file("other-run.json"), JSON.stringify({ ...v2, runId: "another" }));
    await rejects(
      runAppendConfig(flags({ runConfig: file("other-run.json") })),
      /does not extend the run's config: timeline entry 0 \(from round 0, 0x[0-9a-f]{64}\)/,
    );
    await writeFile(file("bad.json"), JSON.stringify({ ...base, data: { stages: [stage1] } }));
    await rejects(runAppendConfig(flags({ runConfig: file("bad.json") })), /invalid configuration: runConfig\.data/);
    const dry = await runAppendConfig(flags({ dryRun: true }));
    assert.equal(dry.dryRun, true);
    assert.ok(Number(dry.gasEstimate) > 0);
    assert.equal((await client.configTimeline()).length, 1);
  });

  it("appends the new config's runConfigHash from its first new stage's round; the timeline command reads it back", async () => {
    const r = await runAppendConfig(flags({ fromRound: "8" })); // a matching --from-round is accepted
    assert.equal(r.configHash, runConfigHash(v2));
    assert.equal(r.fromRound, 8);
    assert.match(r.tx ?? "", /^0x[0-9a-f]{64}$/);
    const t = await runTimeline({ rpc: anvil.rpcUrl, deployment });
    assert.deepEqual(t.timeline, [
      { fromRound: 0, configHash: runConfigHash(v1) },
      { fromRound: 8, configHash: runConfigHash(v2) },
    ]);
    assert.equal(t.operator, new Wallet(anvil.accounts[0]).address);
    await rejects(runAppendConfig(flags()), /every stage of .* already on the run's config timeline \(2 stage/);
    // A config whose stage 1 moved is not the config on chain with a stage appended.
    const moved = { ...stage1, startRound: 9 };
    await writeFile(file("moved.json"), JSON.stringify({ ...base, data: { stages: [stage0, moved, stage2] } }));
    await rejects(
      runAppendConfig(flags({ runConfig: file("moved.json") })),
      /does not extend .* timeline entry 1 \(from round 8/,
    );
  });

  it("hands the operator role over (transfer, accept) through the CLI; the new operator appends", async () => {
    const other = new Wallet(anvil.accounts[1]).address;
    await rejects(runAcceptOperator(flags({ key: file("other.key") })), /is not run .* pending operator \(none/);
    await rejects(runTransferOperator(other, flags({ key: file("other.key") })), /is not run .*'s operator/);
    await rejects(runTransferOperator("0x12", flags()), /address: "0x12"/);
    await runTransferOperator(other, flags());
    assert.equal(await client.pendingOwner(), other);
    await runAcceptOperator(flags({ key: file("other.key") }));
    assert.equal(await client.owner(), other);
    // Through the command line, as an operator would type it (fromRound from v3's new stage: 12).
    const exitCode = process.exitCode;
    process.exitCode = undefined;
    await runCli([
      "node",
      "cotrain",
      "run",
      "append-config",
      "--run-config",
      file("v3.json"),
      "--deployment",
      deployment,
      "--rpc",
      anvil.rpcUrl,
      "--key",
      file("other.key"),
      "--json",
    ]);
    assert.equal(process.exitCode ?? 0, 0);
    process.exitCode = exitCode;
    assert.deepEqual((await client.configTimeline())[2], { fromRound: 12, configHash: runConfigHash(v3) });
  });
});
