import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Wallet, parseEther } from "ethers";
import { type AnvilInstance, TrainingRunClient, createProvider, startAnvil } from "../../node/chain/index.ts";
import { runDeploy } from "../../node/cli/commands/deploy.ts";
import { CliError } from "../../node/cli/errors.ts";
import { createKeystore } from "../../node/identity/index.ts";

/** `cotrain deploy` against a real anvil: keystore + password file, params.json, deployment JSON. */
describe("cotrain deploy", () => {
  let anvil: AnvilInstance;
  let dir: string;

  before(async () => {
    anvil = await startAnvil({ accounts: 2 });
    dir = await mkdtemp(join(tmpdir(), "cotrain-deploy-"));
  });

  after(async () => {
    await anvil?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("deploys with an encrypted keystore and writes the deployment JSON", async () => {
    const keyFile = join(dir, "deployer.json");
    const id = await createKeystore(keyFile, "pw", { scryptN: 16 });
    await writeFile(join(dir, "pw"), "pw\n");
    // Fund the fresh key from an anvil dev account.
    const provider = createProvider(anvil.rpcUrl, { pollingIntervalMs: 50 });
    const funder = new Wallet(anvil.accounts[0], provider);
    await (await funder.sendTransaction({ to: id.address, value: parseEther("10") })).wait();
    const configHash = `0x${"c0".repeat(32)}`;
    await writeFile(
      join(dir, "params.json"),
      JSON.stringify({ configHash, roundSeconds: 120, submissionSeconds: 10, scoringSeconds: 60, gatherSize: 8 }),
    );

    const out = join(dir, "deployment.json");
    const dep = await runDeploy({
      rpc: anvil.rpcUrl,
      key: keyFile,
      passwordFile: join(dir, "pw"),
      config: join(dir, "params.json"),
      out,
    });
    const written = JSON.parse(await readFile(out, "utf8"));
    assert.equal(written.address, dep.address);
    assert.equal(written.chainId, 31337);
    assert.equal(written.configHash, configHash);
    assert.equal(written.deployer, id.address);
    assert.equal(typeof written.block, "number");
    assert.equal(written.params.roundSeconds, 120);

    const client = new TrainingRunClient({ address: dep.address }, { runner: provider });
    const p = await client.runParams();
    assert.equal(p.configHash, configHash);
    assert.equal(p.gatherSize, 8);
    assert.equal(p.genesis, written.params.genesis);
    assert.equal(await client.rewardToken(), written.token);
    provider.destroy();
  });

  it("accepts a raw hex key file (dev chains) and reports bad input as CliError", async () => {
    const keyFile = join(dir, "dev.key");
    await writeFile(keyFile, `${anvil.accounts[1]}\n`);
    const dep = await runDeploy({ rpc: anvil.rpcUrl, key: keyFile });
    assert.match(dep.address, /^0x[0-9a-fA-F]{40}$/);
    await writeFile(join(dir, "bad.json"), JSON.stringify({ roundSeconds: 10, scoringSeconds: 20 }));
    await assert.rejects(
      runDeploy({ rpc: anvil.rpcUrl, key: keyFile, config: join(dir, "bad.json") }),
      /scoringSeconds/,
    );
    await assert.rejects(runDeploy({ rpc: anvil.rpcUrl, key: join(dir, "missing") }), CliError);
  });
});
