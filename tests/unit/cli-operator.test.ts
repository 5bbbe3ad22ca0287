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
  const v1 = runConfigSchema.parse({ runId: "operator-test" });
  const v2 = runConfigSchema.parse({ runId: "operator-test-v2" });
  const v3 = runConfigSchema.parse({ runId: "operator-test-v3" });
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
    await rejects(runAppendConfig(flags()), /from-round: pass --from-round/);
    await rejects(runAppendConfig(flags({ fromRound: "x" })), /from-round: "x" is not a round number/);
    await rejects(runAppendConfig(flags({ fromRound: "5" })), /round 5 is too soon; the earliest round .* is 6/);
    await rejects(
      runAppendConfig(flags({ fromRound: "8", key: file("other.key") })),
      new RegExp(`${other} is not the run's operator ${operator}`),
    );
    await rejects(
      runAppendConfig(flags({ fromRound: "8", runConfig: file("v1.json") })),
      /already on run .* from round 0/,
    );
    await writeFile(file("bad.json"), JSON.stringify({ runId: "x", train: { innerSteps: -1 } }));
    await rejects(
      runAppendConfig(flags({ fromRound: "8", runConfig: file("bad.json") })),
      /invalid configuration: runConfig/,
    );
    const dry = await runAppendConfig(flags({ fromRound: "8", dryRun: true }));
    assert.equal(dry.dryRun, true);
    assert.ok(Number(dry.gasEstimate) > 0);
    assert.equal((await client.configTimeline()).length, 1);
  });

  it("appends the new config's runConfigHash; the timeline command reads it back", async () => {
    const r = await runAppendConfig(flags({ fromRound: "8" }));
    assert.equal(r.configHash, runConfigHash(v2));
    assert.equal(r.fromRound, 8);
    assert.match(r.tx ?? "", /^0x[0-9a-f]{64}$/);
    const t = await runTimeline({ rpc: anvil.rpcUrl, deployment });
    assert.deepEqual(t.timeline, [
      { fromRound: 0, configHash: runConfigHash(v1) },
      { fromRound: 8, configHash: runConfigHash(v2) },
    ]);
    assert.equal(t.operator, new Wallet(anvil.accounts[0]).address);
    await rejects(
      runAppendConfig(flags({ fromRound: "7", runConfig: file("v3.json") })),
      /round 7 must come after .* round 8/,
    );
  });

  it("hands the operator role over (transfer, accept) through the CLI; the new operator appends", async () => {
    const other = new Wallet(anvil.accounts[1]).address;
    await rejects(runAcceptOperator(flags({ key: file("other.key") })), /is not run .* pending operator \(none/);
    await rejects(runTransferOperator(other, flags({ key: file("other.key") })), /is not run .*'s operator/);
    await rejects(runTransferOperator("0x12", flags()), /address: "0x12"/);
    await runTransferOperator(other, flags());
    assert.equal(await client.pendingOperator(), other);
    await runAcceptOperator(flags({ key: file("other.key") }));
    assert.equal(await client.operator(), other);
    // Through the command line, as an operator would type it.
    await runCli([
      "node",
      "cotrain",
      "run",
      "append-config",
      "--run-config",
      file("v3.json"),
      "--from-round",
      "12",
      "--deployment",
      deployment,
      "--rpc",
      anvil.rpcUrl,
      "--key",
      file("other.key"),
      "--json",
    ]);
    assert.equal(process.exitCode ?? 0, 0);
    assert.deepEqual((await client.configTimeline())[2], { fromRound: 12, configHash: runConfigHash(v3) });
  });
});
