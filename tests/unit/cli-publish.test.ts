import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Wallet } from "ethers";
import { type AnvilInstance, TrainingRunClient, createProvider, startAnvil } from "../../node/chain/index.ts";
import { runDeploy } from "../../node/cli/commands/deploy.ts";
import { settingsFromNetworkFile } from "../../node/cli/commands/network.ts";
import { publicBootstrap, runPublish } from "../../node/cli/commands/publish.ts";
import { CliError } from "../../node/cli/errors.ts";
import { runConfigHash, runConfigSchema } from "../../node/config/index.ts";
import { randomIdentity } from "../../node/identity/index.ts";
import { loadNetworkFile } from "../../node/testnet/network-file.ts";

/** deploy --run-config, then publish from a running node's multiaddrs.json; join/validator --network accept the file. */
describe("cotrain deploy --run-config + publish on anvil", () => {
  let anvil: AnvilInstance;
  let dir: string;
  const run = runConfigSchema.parse({ runId: "publish-test" });
  const peerId = randomIdentity().peerId.toString();
  const rejects = (p: Promise<unknown>, re: RegExp) =>
    assert.rejects(p, (e: unknown) => e instanceof CliError && re.test(e.message) && !e.message.includes("\n"));

  before(async () => {
    anvil = await startAnvil({ accounts: 1 });
    dir = await mkdtemp(join(tmpdir(), "cotrain-publish-"));
    await writeFile(join(dir, "run.json"), JSON.stringify(run));
    await writeFile(join(dir, "deployer.key"), anvil.accounts[0]);
    await writeFile(join(dir, "multiaddrs.json"), JSON.stringify([`/ip4/127.0.0.1/tcp/4001/p2p/${peerId}`]));
  });

  after(async () => {
    await anvil?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("deploys with the run config's hash and publishes a network file that join and validator --network accept", async () => {
    const deployment = join(dir, "deployment.json");
    const dep = await runDeploy({
      rpc: anvil.rpcUrl,
      key: join(dir, "deployer.key"),
      runConfig: join(dir, "run.json"),
      out: deployment,
    });
    assert.equal(dep.configHash, runConfigHash(run));

    const out = join(dir, "network.json");
    const { file } = await runPublish({
      deployment,
      runConfig: join(dir, "run.json"),
      rpc: anvil.rpcUrl,
      nodeDir: [dir],
      name: "publish test",
      out,
    });
    assert.deepEqual(file.bootstrap, [`/ip4/127.0.0.1/tcp/4001/p2p/${peerId}`]);
    const loaded = loadNetworkFile(out);
    assert.equal(loaded.file.contract, dep.address);
    assert.equal(loaded.file.deploymentBlock, dep.block);
    assert.equal(loaded.file.chainId, 31337);
    assert.deepEqual(loaded.run, run);
    assert.equal(typeof JSON.parse(await readFile(out, "utf8")).runConfig, "object"); // inline: one file

    const settings = await settingsFromNetworkFile(out, {
      dataDir: join(dir, "joiner"),
      key: join(dir, "deployer.key"),
    });
    assert.equal(settings.rpc, anvil.rpcUrl);
    assert.deepEqual(settings.bootstrap, file.bootstrap);
    const written = JSON.parse(await readFile(settings.deployment ?? "", "utf8"));
    assert.equal(written.address, dep.address);
    assert.equal(written.configHash, dep.configHash);
  });

  it("refuses a run config the contract did not commit to, a missing node dir, a file for another chain", async () => {
    const deployment = join(dir, "deployment.json");
    await writeFile(join(dir, "other-run.json"), JSON.stringify({ runId: "another-run" }));
    await rejects(
      runPublish({ deployment, runConfig: join(dir, "other-run.json"), rpc: anvil.rpcUrl, nodeDir: [dir] }),
      /^invalid configuration: runConfig: .*other-run\.json hashes to 0x[0-9a-f]{64} but deployment .* was deployed with configHash 0x/,
    );
    await rejects(
      runPublish({ deployment, runConfig: join(dir, "run.json"), rpc: anvil.rpcUrl, nodeDir: [join(dir, "nope")] }),
      /^invalid configuration: node-dir: no .*nope\/multiaddrs\.json \(ENOENT\)/,
    );
    await rejects(
      runPublish({ deployment, runConfig: join(dir, "run.json"), rpc: anvil.rpcUrl }),
      /^invalid configuration: bootstrap: pass --bootstrap/,
    );
    const dep = JSON.parse(await readFile(deployment, "utf8"));
    await writeFile(join(dir, "dep-5.json"), JSON.stringify({ ...dep, chainId: 5 }));
    await rejects(
      runPublish({
        deployment: join(dir, "dep-5.json"),
        runConfig: join(dir, "run.json"),
        rpc: anvil.rpcUrl,
        nodeDir: [dir],
      }),
      /^invalid configuration: bootstrap: none of 1 address\(es\) is public/,
    );
    await rejects(
      runPublish({
        deployment: join(dir, "dep-5.json"),
        runConfig: join(dir, "run.json"),
        rpc: anvil.rpcUrl,
        bootstrap: [`/dns4/boot.example.org/tcp/4001/p2p/${peerId}`],
      }),
      /^invalid configuration: network\.chainId: the file says 5 but .* is chain 31337$/,
    );
  });

  it("after a stage is appended on chain, join refuses the outdated network file and accepts the republished one", async () => {
    const A = "a".repeat(64);
    const base = runConfigSchema.parse({ runId: "publish-stages", dataset: { manifestHash: A } });
    const staged = runConfigSchema.parse({
      ...base,
      data: {
        stages: [
          { dataset: A, startRound: 0, schedule: { kind: "continue" }, replay: 0 },
          {
            dataset: "b".repeat(64),
            startRound: 50,
            schedule: { kind: "rewarm", peakLr: 1e-3, warmupSteps: 5, totalSteps: 100, minLrRatio: 0.1 },
            replay: 0.05,
          },
        ],
      },
    });
    await writeFile(join(dir, "base.json"), JSON.stringify(base));
    await writeFile(join(dir, "staged.json"), JSON.stringify(staged));
    const deployment = join(dir, "deployment-stages.json");
    const key = join(dir, "deployer.key");
    const dep = await runDeploy({ rpc: anvil.rpcUrl, key, runConfig: join(dir, "base.json"), out: deployment });
    const publish = (runConfig: string, out: string) =>
      runPublish({
        deployment,
        runConfig: join(dir, runConfig),
        rpc: anvil.rpcUrl,
        nodeDir: [dir],
        out: join(dir, out),
      });
    await publish("base.json", "net-base.json");
    const provider = createProvider(anvil.rpcUrl);
    try {
      const operator = new TrainingRunClient(
        { address: dep.address },
        { runner: new Wallet(anvil.accounts[0], provider) },
      );
      await operator.appendConfig(50, runConfigHash(staged));
    } finally {
      provider.destroy();
    }
    await rejects(
      settingsFromNetworkFile(join(dir, "net-base.json"), { dataDir: join(dir, "joiner-old"), key }),
      /^invalid configuration: network\.runConfig: the contract's config from round 50 is 0x[0-9a-f]{64}, which the file's run config does not cover \(an outdated network file: get the run's newest\)$/,
    );
    const { file } = await publish("staged.json", "net-staged.json");
    assert.equal(file.configHash, runConfigHash(staged));
    const settings = await settingsFromNetworkFile(join(dir, "net-staged.json"), {
      dataDir: join(dir, "joiner-new"),
      key,
    });
    assert.deepEqual(JSON.parse(await readFile(settings.runConfig ?? "", "utf8")), JSON.parse(JSON.stringify(staged)));
  });

  it("publishes only addresses a stranger can dial, unless the run is on a LAN", () => {
    const pub = `/dns4/boot.example.org/tcp/4001/p2p/${peerId}`;
    const lan = `/ip4/192.168.1.7/tcp/4001/p2p/${peerId}`;
    const lo = `/ip4/127.0.0.1/tcp/4001/p2p/${peerId}`;
    assert.deepEqual(publicBootstrap([lo, pub, lan, pub], false), { kept: [pub], dropped: [lo, lan] });
    assert.deepEqual(publicBootstrap([lo, lan], true).kept, [lo, lan]);
    assert.throws(() => publicBootstrap(["/ip4/1.2.3.4/tcp/1"], false), /does not end in \/p2p\//);
    assert.throws(() => publicBootstrap(["not a multiaddr"], false), /bootstrap: "not a multiaddr" is not a multiaddr/);
  });
});
