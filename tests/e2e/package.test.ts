import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type AnvilInstance, TrainingRunClient, createProvider, startAnvil } from "../../node/chain/index.ts";
import { runConfigSchema } from "../../node/config/index.ts";
import { NODE, Proc, exec, inNamespace, installPackage } from "../fixtures/installed-package.ts";
import { joinBehindNat } from "./package-nat.ts";

/**
 * The packed tarball, installed into an empty directory, is a working `cotrain`: help, a key, a
 * deployment from the packaged ABI, funding, publishing, doctor, and a peer that joins from the
 * published file (preparing its dataset from the packaged corpus) and registers on chain. Then the
 * whole path of docs/join-a-testnet.md for a stranger behind NAT (package-nat.ts).
 */
describe("npm pack: cotrain from the tarball, outside the repository", () => {
  let work: string;
  let app: string;
  let anvil: AnvilInstance;
  let bin: string;
  const cotrain = (args: string[], timeoutMs?: number) => exec(NODE, [bin, ...args], app, timeoutMs);

  before(async () => {
    work = mkdtempSync(join(tmpdir(), "cotrain-pack-"));
    ({ app, bin } = await installPackage(work));
    anvil = await startAnvil({ accounts: 2 });
  });

  after(async () => {
    await anvil?.stop();
    if (work && !process.env.COTRAIN_KEEP_E2E) rmSync(work, { recursive: true, force: true });
  });

  it("help, keys, deploy, fund, publish, doctor and join work from the installed package", async () => {
    const help = await cotrain(["--help"]);
    assert.equal(help.code, 0, help.stderr);
    for (const c of ["keys", "deploy", "publish", "join", "doctor", "claim", "stake", "fund"]) {
      assert.match(help.stdout, new RegExp(`\\n  ${c} `), c);
    }

    writeFileSync(join(app, "pw"), "correct horse\n");
    const key = await cotrain(["keys", "new", "--out", "peer.json", "--password-file", "pw"]);
    assert.equal(key.code, 0, key.stderr);
    const { address } = JSON.parse(key.stdout) as { address: string };

    writeFileSync(join(app, "deployer.hex"), anvil.accounts[0]);
    writeFileSync(join(app, "run.json"), JSON.stringify(runConfigSchema.parse({ runId: "pack-test" })));
    writeFileSync(
      join(app, "params.json"),
      JSON.stringify({ genesisDelaySeconds: 2, roundSeconds: 30, submissionSeconds: 5, scoringSeconds: 10 }),
    );
    const rpc = anvil.rpcUrl;
    const dep = await cotrain([
      "deploy",
      ...["--rpc", rpc, "--key", "deployer.hex", "--config", "params.json", "--run-config", "run.json"],
      ...["--out", "deployment.json"],
    ]);
    assert.equal(dep.code, 0, dep.stderr);
    const contract = (JSON.parse(dep.stdout) as { address: string }).address;

    const fund = await cotrain(["fund", address, "2", "--rpc", rpc, "--json"]);
    assert.equal(fund.code, 0, fund.stderr);

    // A stand-in bootstrap address (nobody listens there): the joiner starts alone and still registers.
    const boot = "/ip4/127.0.0.1/tcp/9/p2p/16Uiu2HAm7y4wLLNsMjdvS9dKgbXmmmDr8TaiL2HWZrd6sRFZqGZM";
    const pub = await cotrain([
      "publish",
      ...["--deployment", "deployment.json", "--run-config", "run.json", "--rpc", rpc],
      ...["--bootstrap", boot, "--out", "network.json"],
    ]);
    assert.equal(pub.code, 0, pub.stderr);

    const doctor = await cotrain(
      ["doctor", "--network", "network.json", "--key", "peer.json", "--backend", "cpu", "--train-steps", "1", "--json"],
      180_000,
    );
    const checks = Object.fromEntries(
      (JSON.parse(doctor.stdout) as { name: string; status: string; detail: string }[]).map((c) => [c.name, c]),
    );
    for (const name of ["rpc", "contract", "wallet", "backend"]) assert.equal(checks[name]?.status, "ok", name);
    assert.equal(checks.bootstrap.status, "fail"); // the stand-in bootstrap address does not answer

    const joiner = new Proc(
      ...inNamespace(null, NODE, [
        bin,
        ...["join", "network.json", "--key", "peer.json", "--password-file", "pw", "--data-dir", "joiner"],
        ...["--listen", "/ip4/127.0.0.1/tcp/0", "--backend", "cpu", "--dataset-dir", "data"],
      ]),
      app,
    );
    try {
      await joiner.waitFor(/"msg":"registered as a peer"/, 180_000);
      const provider = createProvider(rpc);
      try {
        assert.equal(await new TrainingRunClient({ address: contract }, { runner: provider }).isPeer(address), true);
      } finally {
        provider.destroy();
      }
    } finally {
      // A graceful stop ends the round after the inner step in flight (the trainer takes the stop signal).
      assert.ok(await joiner.stop(), "the joiner exits within 60 s of SIGINT");
    }
  });

  it("an outsider behind NAT: key, funds, doctor, joins through the validator's relay, is included and claims", {
    timeout: 600_000,
  }, async () => {
    await joinBehindNat(app, bin);
  });
});
