import { existsSync, readFileSync, statfsSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { dirname, resolve } from "node:path";
import { multiaddr } from "@multiformats/multiaddr";
import type { Command } from "commander";
import { Wallet, formatEther } from "ethers";
import { z } from "zod";
import { ChainError, type RunParams, TrainingRunClient, createProvider } from "../../chain/index.ts";
import {
  ConfigError,
  type RunConfig,
  nodeConfigFromEnv,
  nodeConfigSchema,
  readRunConfig,
  runConfigHash,
  uncoveredEntries,
} from "../../config/index.ts";
import { initParams, modelPresets } from "../../model/index.ts";
import { type LoadedNetwork, loadNetworkFile } from "../../testnet/network-file.ts";
import { constantSchedule, openEngine, type TokenBatch } from "../../train/index.ts";
import { CliError } from "../errors.ts";
import { addNodeFlags } from "./roles.ts";

export type CheckStatus = "ok" | "warn" | "fail" | "skip";
export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
}

/** The node settings doctor reads: those of `cotrain peer`, with key/deployment/runConfig optional. */
const doctorConfigSchema = nodeConfigSchema.extend({
  key: z.string().min(1).optional(),
  deployment: z.string().min(1).optional(),
  runConfig: z.string().min(1).optional(),
});
type DoctorConfig = z.infer<typeof doctorConfigSchema>;

interface DoctorFlags extends Record<string, unknown> {
  config?: string;
  network?: string;
  metricsPort?: string;
  json?: boolean;
  trainSteps: string;
  validator?: boolean;
}

/** flags > COTRAIN_* env > --config file > defaults, as for `cotrain peer`; errors name the field. */
export function doctorConfig(flags: DoctorFlags, env = process.env): DoctorConfig {
  const { config: file, network: _n, json: _j, trainSteps: _t, validator: _v, metricsPort, ...rest } = flags;
  let fromFile: Record<string, unknown> = {};
  if (file) {
    try {
      fromFile = JSON.parse(readFileSync(file, "utf8"));
    } catch (err) {
      throw new CliError(
        `invalid configuration: config: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  }
  const cli = Object.fromEntries(
    Object.entries({ ...rest, metricsPort: metricsPort === undefined ? undefined : Number(metricsPort) }).filter(
      ([, v]) => v !== undefined,
    ),
  );
  const res = doctorConfigSchema.safeParse({ ...fromFile, ...nodeConfigFromEnv(env), ...cli });
  if (!res.success) throw new CliError(`invalid configuration: ${ConfigError.fromZod(res.error).message}`);
  return res.data;
}

const ok = (name: string, detail: string): CheckResult => ({ name, status: "ok", detail });
const fail = (name: string, detail: string): CheckResult => ({ name, status: "fail", detail });
const warn = (name: string, detail: string): CheckResult => ({ name, status: "warn", detail });
const skip = (name: string, detail: string): CheckResult => ({ name, status: "skip", detail });

/**
 * The engine the node would use trains: a warm-up step (kernels compile), then a few nano steps,
 * reported as tokens/s (docs/training.md and docs/gpu.md have the full benchmarks).
 */
async function checkBackend(choice: DoctorConfig["backend"], steps: number): Promise<CheckResult> {
  try {
    const cfg = modelPresets.nano;
    const B = 8;
    const T = cfg.seqLen;
    const batches: TokenBatch[] = Array.from({ length: steps }, (_, k) => {
      const inputs = new Int32Array(B * T).map((_, i) => (i * 31 + k * 7) % 256);
      const targets = new Int32Array(B * T).map((_, i) => (i * 31 + k * 7 + 1) % 256);
      return { batch: B, seqLen: T, inputs, targets };
    });
    const { engine, backend } = await openEngine({ backend: choice, lr: constantSchedule(1e-3) }, { config: cfg });
    try {
      const params = (await engine.train(initParams(cfg, 0), batches.slice(0, 1), 1)).params; // warm-up: kernels compile
      const r = await engine.train(params, batches, steps);
      const skipped = backend.tried.length ? ` (skipped ${backend.tried.map((t) => t.name).join(", ")})` : "";
      return ok(
        "backend",
        `${backend.backend}${skipped}: ${Math.round(r.tokens / r.seconds)} tokens/s (nano, ${steps} steps of ${B}×${T}, loss ${r.losses[0].toFixed(3)} -> ${r.losses[r.losses.length - 1].toFixed(3)})`,
      );
    } finally {
      engine.dispose();
    }
  } catch (err) {
    return fail("backend", (err as Error).message.split("\n")[0]);
  }
}

const KiB = (n: number) => `${Math.round(n / 1024)} KiB`;
const MiB = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;

/**
 * The WebGPU adapter (name, vendor, features, limits) and a timed, checked matmul on it; without one,
 * why (no Vulkan loader, no NVIDIA ICD, the container's missing graphics capability). A software adapter
 * is only exercised when webgpu was asked for by name (auto skips it for wasm).
 */
async function checkWebGpu(choice: DoctorConfig["backend"]): Promise<CheckResult> {
  const named = choice === "webgpu";
  try {
    const { probeWebGpu } = await import("../../gpu/index.ts");
    const first = await probeWebGpu();
    const a = first.adapter;
    const run = named || !a.isFallbackAdapter;
    const { matmul } = run ? await probeWebGpu({ matmulSize: 512 }) : first;
    const key = ["shader-f16", "subgroups", "timestamp-query"].filter((f) => a.features.includes(f));
    const l = a.limits;
    const parts = [
      `${a.description || a.device} (${a.vendor}, ${a.architecture})`,
      `features ${key.join(", ") || "none of shader-f16/subgroups/timestamp-query"} (+${a.features.length - key.length} more)`,
      `limits: ${KiB(l.maxComputeWorkgroupStorageSize)} workgroup memory, ${l.maxComputeInvocationsPerWorkgroup} invocations, ${MiB(l.maxStorageBufferBindingSize)} storage binding`,
    ];
    if (matmul)
      parts.push(
        `matmul ${matmul.n}³ ${matmul.ms.toFixed(1)} ms = ${matmul.gflops.toFixed(1)} GFLOP/s (max rel err ${matmul.maxRelErr.toExponential(1)})`,
      );
    if (matmul && !(matmul.maxRelErr < 1e-4)) return fail("webgpu", `${parts.join("; ")}: wrong results`);
    if (a.isFallbackAdapter)
      return warn(
        "webgpu",
        `${parts.join("; ")}; a software adapter (no GPU found): ${named ? "webgpu will train, slowly" : "auto trains on wasm; --backend webgpu forces it"}`,
      );
    return ok("webgpu", parts.join("; "));
  } catch (err) {
    const msg = (err as Error).message.split("\n")[0];
    return named ? fail("webgpu", msg) : choice === "auto" ? warn("webgpu", msg) : skip("webgpu", msg);
  }
}

/** Free space where the node keeps its state (the nearest existing parent of the data dir). */
function checkDisk(dataDir: string): CheckResult {
  let dir = resolve(dataDir);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  const s = statfsSync(dir);
  const free = (s.bavail * s.bsize) / 2 ** 30;
  const detail = `${free.toFixed(1)} GiB free at ${dir}`;
  return free < 1 ? fail("disk", `${detail}; a node needs at least 1 GiB (checkpoints, blobs)`) : ok("disk", detail);
}

function portFree(port: number, host: string): Promise<string | null> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once("error", (err: NodeJS.ErrnoException) => res(err.code ?? err.message));
    srv.listen(port, host, () => srv.close(() => res(null)));
  });
}

function tcpTarget(addr: string): { host: string; port: number } | null {
  const parts = multiaddr(addr).getComponents();
  const host = parts.find((c) => ["ip4", "ip6", "dns", "dns4", "dns6"].includes(c.name))?.value;
  const port = parts.find((c) => c.name === "tcp")?.value;
  return host && port ? { host, port: Number(port) } : null;
}

/** The libp2p listen ports (and the metrics port) can be bound. */
async function checkPorts(c: DoctorConfig): Promise<CheckResult> {
  const wanted: Array<{ what: string; host: string; port: number }> = [];
  for (const a of c.listen) {
    let t: { host: string; port: number } | null;
    try {
      t = tcpTarget(a);
    } catch (err) {
      return fail("ports", `listen ${a}: ${(err as Error).message}`);
    }
    if (t && t.port > 0) wanted.push({ what: `listen ${a}`, ...t });
  }
  if (c.metricsPort > 0) wanted.push({ what: "metrics", host: c.metricsHost, port: c.metricsPort });
  if (wanted.length === 0) return ok("ports", "only ephemeral ports (0) configured");
  const busy: string[] = [];
  for (const w of wanted) {
    const e = await portFree(w.port, w.host);
    if (e) busy.push(`${w.what} (${w.host}:${w.port}: ${e})`);
  }
  return busy.length
    ? fail("ports", `cannot bind ${busy.join(", ")}`)
    : ok("ports", wanted.map((w) => `${w.host}:${w.port}`).join(", "));
}

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((res) => {
    const sock = createConnection({ host, port });
    const done = (e: string | null) => {
      sock.destroy();
      res(e);
    };
    sock.setTimeout(timeoutMs, () => done("timeout"));
    sock.once("connect", () => done(null));
    sock.once("error", (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

/** Bootstrap peers answer a TCP connect (libp2p's own handshake is the node's business). */
async function checkBootstrap(addrs: string[]): Promise<CheckResult> {
  if (addrs.length === 0) return skip("bootstrap", "no bootstrap peers configured");
  const results = await Promise.all(
    addrs.map(async (a) => {
      try {
        const t = tcpTarget(a);
        if (!t) return `${a}: no tcp address`;
        const e = await tcpConnect(t.host, t.port, 3000);
        return e ? `${t.host}:${t.port} ${e}` : null;
      } catch (err) {
        return `${a}: ${(err as Error).message}`;
      }
    }),
  );
  const bad = results.filter((r): r is string => r !== null);
  if (bad.length === addrs.length) return fail("bootstrap", `none reachable: ${bad.join("; ")}`);
  if (bad.length)
    return warn("bootstrap", `${addrs.length - bad.length}/${addrs.length} reachable; not: ${bad.join("; ")}`);
  return ok("bootstrap", `${addrs.length}/${addrs.length} reachable`);
}

/** The address of a key file without decrypting it: a 0x hex key, or a keystore's address field. */
function keyAddress(file: string): string {
  const text = readFileSync(file, "utf8").trim();
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(text)) return new Wallet(text.startsWith("0x") ? text : `0x${text}`).address;
  const a = (JSON.parse(text) as { address?: string }).address;
  if (!a) throw new Error("neither a hex key nor a keystore with an address field");
  return `0x${a.replace(/^0x/, "")}`;
}

export interface ChainTarget {
  rpc: string;
  chainId?: number;
  contract?: string;
  configHash?: string;
  /** The run config (its stage prefixes must cover the contract's config timeline, docs/stages.md). */
  runConfig?: RunConfig;
}

/**
 * RPC, chain id, contract + config hash, wallet balance + registration, clock skew: one provider for all.
 * Works before genesis (the run is reported as not started). With `validator`, the wallet check also
 * asks whether the key can validate: staked at least minStake, or able to stake it.
 */
export async function checkChain(
  t: ChainTarget,
  key: string | undefined,
  opts: { validator?: boolean } = {},
): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const provider = createProvider(t.rpc);
  try {
    let chainId: number;
    try {
      chainId = Number((await provider.getNetwork()).chainId);
    } catch {
      return [fail("rpc", `no JSON-RPC answer at ${t.rpc}`)];
    }
    if (t.chainId !== undefined && t.chainId !== chainId)
      out.push(fail("rpc", `${t.rpc} is chain ${chainId}, the run is on chain ${t.chainId}`));
    else out.push(ok("rpc", `${t.rpc}, chain id ${chainId}`));

    const block = await provider.getBlock("latest");
    const skew = (block?.timestamp ?? 0) - Date.now() / 1000;
    // Round deadlines are chain time; the node follows the chain's clock (RoundClock), so skew only
    // matters when it is large. An instamine dev chain's last block can simply be old: a warning.
    if (Math.abs(skew) > 60)
      out.push(
        warn(
          "clock",
          `latest block ${block?.number} is ${Math.round(skew)} s from local time (old block, or a wrong system clock)`,
        ),
      );
    else out.push(ok("clock", `latest block ${block?.number} within ${Math.abs(skew).toFixed(0)} s of local time`));

    let client: TrainingRunClient | undefined;
    let params: RunParams | undefined;
    if (!t.contract) out.push(skip("contract", "no --deployment or --network: which run is unknown"));
    else if ((await provider.getCode(t.contract)) === "0x")
      out.push(fail("contract", `no contract at ${t.contract} on chain ${chainId}`));
    else {
      client = new TrainingRunClient({ address: t.contract }, { runner: provider });
      params = await client.runParams();
      const missing = t.runConfig ? uncoveredEntries(t.runConfig, await client.configTimeline()) : [];
      if (
        missing.length > 0 ||
        (!t.runConfig && t.configHash && params.configHash.toLowerCase() !== t.configHash.toLowerCase())
      ) {
        const [e] = missing;
        out.push(
          fail(
            "contract",
            e && e.fromRound > 0
              ? `the config on chain from round ${e.fromRound} (${e.configHash}) is not the run config's ${t.configHash} with some of its stages: get the run's newest config`
              : `configHash on chain ${params.configHash} differs from the run config's ${t.configHash}`,
          ),
        );
      } else {
        // currentRound() reverts (TrainingRunNotStarted) before genesis: a run not started yet is fine.
        const genesis = params.genesis;
        const round = await client
          .currentRound()
          .then((r) => `round ${r}`)
          .catch((err) =>
            err instanceof ChainError && err.revert?.name === "TrainingRunNotStarted"
              ? `not started (genesis at ${new Date(genesis * 1000).toISOString()})`
              : `round unknown (${(err as Error).message.split("\n")[0]})`,
          );
        out.push(ok("contract", `TrainingRun ${t.contract}, ${round}, ${params.roundSeconds} s rounds`));
      }
    }

    if (!key) out.push(skip("wallet", "no --key"));
    else {
      try {
        const address = keyAddress(key);
        const balance = await provider.getBalance(address);
        const roles: string[] = [];
        let stake: { amount: bigint; withdrawableAt: number } | undefined;
        if (client) {
          const idx = await client.peerIndex(address);
          if (idx !== null) roles.push(`peer #${idx}`);
          stake = await client.stakeOf(address);
          if (stake.amount > 0n) roles.push(`validator with ${formatEther(stake.amount)} staked`);
        }
        const detail = `${address}: ${formatEther(balance)} native balance; ${roles.length ? roles.join(", ") : client ? "not registered yet (a peer registers on first start)" : "run unknown"}`;
        // Registering, scoring and claiming are transactions: an empty wallet cannot take part.
        out.push(balance === 0n ? fail("wallet", `${detail}; it needs gas`) : ok("wallet", detail));
        if (opts.validator && stake && params) out.push(checkStake(address, stake, params.minStake, balance));
      } catch (err) {
        out.push(fail("wallet", `${key}: ${(err as Error).message.split("\n")[0]}`));
      }
    }
  } finally {
    provider.destroy();
  }
  return out;
}

/** Can `address` validate: staked at least minStake and not leaving, or able to stake it now? */
function checkStake(
  address: string,
  stake: { amount: bigint; withdrawableAt: number },
  minStake: bigint,
  balance: bigint,
): CheckResult {
  const min = `${formatEther(minStake)} ETH`;
  if (stake.withdrawableAt !== 0)
    return fail(
      "stake",
      `${address} asked to unstake; its ${formatEther(stake.amount)} ETH is withdrawable at ${new Date(stake.withdrawableAt * 1000).toISOString()} (cotrain withdraw, then cotrain stake)`,
    );
  if (stake.amount >= minStake) return ok("stake", `${formatEther(stake.amount)} ETH staked (minimum ${min})`);
  if (balance > minStake)
    return warn("stake", `not staked yet; \`cotrain stake\` or \`cotrain validator --stake\` deposits at least ${min}`);
  return fail(
    "stake",
    `${address} holds ${formatEther(balance)} ETH, less than the run's minimum stake of ${min} plus gas`,
  );
}

/** Runs every check; none throws (each reports fail with its reason). */
export async function runDoctor(flags: DoctorFlags): Promise<CheckResult[]> {
  const c = doctorConfig(flags);
  let net: LoadedNetwork | undefined;
  if (flags.network) {
    try {
      net = loadNetworkFile(flags.network);
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(`invalid configuration: ${err.message}`);
      throw err;
    }
  }
  const results: CheckResult[] = [];
  const major = Number(process.versions.node.split(".")[0]);
  results.push(
    major >= 22
      ? ok("node", `v${process.versions.node}`)
      : warn("node", `v${process.versions.node}; cotrain is tested on Node 22 (npm scripts use the pinned one)`),
  );
  results.push(await checkWebGpu(c.backend));
  results.push(await checkBackend(c.backend, Math.max(1, Number(flags.trainSteps) || 3)));
  results.push(checkDisk(c.dataDir));
  results.push(await checkPorts(c));
  results.push(await checkBootstrap([...(net?.file.bootstrap ?? []), ...c.bootstrap]));

  const target: ChainTarget = { rpc: flags.rpc !== undefined || !net ? c.rpc : net.file.rpc };
  if (net)
    Object.assign(target, {
      chainId: net.file.chainId,
      contract: net.file.contract,
      configHash: net.file.configHash,
      runConfig: net.run,
    });
  try {
    if (c.deployment) {
      const dep = JSON.parse(readFileSync(c.deployment, "utf8")) as { address?: string; chainId?: number };
      target.contract ??= dep.address;
      target.chainId ??= dep.chainId;
    }
    if (c.runConfig) {
      target.runConfig = readRunConfig(c.runConfig);
      target.configHash = runConfigHash(target.runConfig);
    }
  } catch (err) {
    results.push(fail("config", (err as Error).message));
  }
  results.push(...(await checkChain(target, c.key, { validator: flags.validator })));
  return results;
}

export function registerDoctor(program: Command): void {
  addNodeFlags(
    program
      .command("doctor")
      .description(
        "check this machine and its settings before running a node: WebGPU adapter, training speed, disk, ports, bootstrap peers, RPC, wallet, clock",
      )
      .option(
        "--network <file>",
        "a run's network file (cotrain join format): checks its chain, contract and bootstrap peers",
      )
      .option("--validator", "also check the key can validate: staked at least the run's minStake, or can stake it")
      .option("--train-steps <n>", "nano training steps for the tokens/s measurement", "3")
      .option("--json", "print the results as one JSON array"),
  ).action(async (flags: DoctorFlags) => {
    const results = await runDoctor(flags);
    if (flags.json) console.log(JSON.stringify(results));
    else for (const r of results) console.log(`${r.status.padEnd(4)}  ${r.name.padEnd(9)}  ${r.detail}`);
    const failed = results.filter((r) => r.status === "fail");
    if (failed.length) throw new CliError(`${failed.length} check(s) failed: ${failed.map((r) => r.name).join(", ")}`);
  });
}
