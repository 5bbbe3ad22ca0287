import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { HDNodeWallet } from "ethers";
import { ChainError } from "./errors.ts";

export interface AnvilOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Seconds between automatically mined blocks; unset = mine on each transaction (instamine). */
  blockTime?: number;
  chainId?: number;
  /** Number of funded dev accounts. */
  accounts?: number;
  /** Unix seconds of the genesis block (default: now). */
  timestamp?: number;
  /** More anvil flags (e.g. `--steps-tracing` for opcode-level debug_traceTransaction). */
  extraArgs?: string[];
  /** Milliseconds to wait for the RPC to answer. */
  startTimeoutMs?: number;
}

export interface AnvilInstance {
  rpcUrl: string;
  chainId: number;
  /** Private keys of the funded dev accounts (anvil's default mnemonic). */
  accounts: string[];
  /** Kills anvil and waits for it to exit; safe to call twice. */
  stop(): Promise<void>;
}

/** anvil's default dev mnemonic; passed explicitly so the derived keys below are the funded ones. */
export const ANVIL_MNEMONIC = "test test test test test test test test test test test junk";

let anvilRoot: HDNodeWallet | undefined;

/** Private key of dev account `i` (BIP-44 m/44'/60'/0'/0/i, as anvil derives them). */
export function anvilKey(i: number): string {
  // The mnemonic's seed (PBKDF2, ~50 ms) is computed once; each account is then one child derivation.
  anvilRoot ??= HDNodeWallet.fromPhrase(ANVIL_MNEMONIC, undefined, "m/44'/60'/0'/0");
  return anvilRoot.deriveChild(i).privateKey;
}

/**
 * Path of the anvil binary. `@foundry-rs/anvil` ships it in a per-platform optional dependency
 * (`@foundry-rs/anvil-<platform>-<amd64|arm64>/bin/anvil`), the same lookup its own bin.mjs does.
 */
export function anvilBinary(): string {
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  const pkg = `@foundry-rs/anvil-${process.platform}-${arch}`;
  const name = process.platform === "win32" ? "anvil.exe" : "anvil";
  const require = createRequire(import.meta.url);
  try {
    const bin = require.resolve(`${pkg}/bin/${name}`);
    if (existsSync(bin)) return bin;
  } catch {
    // fall through to the error below
  }
  throw new ChainError(
    "ANVIL_NOT_FOUND",
    `anvil not found: package ${pkg} is not installed (it is an optional dependency of @foundry-rs/anvil; reinstall with a Node >= 22 npm)`,
  );
}

/** Binds `port` (0: any) on 127.0.0.1 and releases it; resolves with the port, rejects if taken. */
function probePort(port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(port, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * anvil must not outlive us, however we end (even SIGKILL, where no handler runs). On POSIX it runs
 * under a tiny sh watchdog that holds our stdin pipe: when the pipe closes (stop(), or this process
 * exiting and the kernel closing its fds) `read` returns and the watchdog kills anvil. The shell itself
 * waits on anvil, so an anvil that fails to start still shows up as the child's exit code.
 */
// Background jobs of a non-interactive sh get /dev/null as stdin, so the pipe is kept as fd 3.
const WATCHDOG = 'exec 3<&0; "$0" "$@" & pid=$!; (read _ <&3; kill $pid 2>/dev/null) & wait $pid';

function spawnAnvil(bin: string, args: string[]): ChildProcess {
  if (process.platform === "win32") return spawn(bin, args, { stdio: ["pipe", "ignore", "pipe"] });
  return spawn("/bin/sh", ["-c", WATCHDOG, bin, ...args], { stdio: ["pipe", "ignore", "pipe"] });
}

/** Starts a local anvil on 127.0.0.1 and resolves once its RPC answers. */
export async function startAnvil(opts: AnvilOptions = {}): Promise<AnvilInstance> {
  const bin = anvilBinary();
  // An explicit port is probed first: otherwise a busy port's RPC (another node) would answer the
  // readiness check below and we would report someone else's chain as started.
  const port = await probePort(opts.port ?? 0).catch((err: NodeJS.ErrnoException) => {
    throw new ChainError("ANVIL_START_FAILED", `cannot use port ${opts.port} on 127.0.0.1: ${err.code ?? err.message}`);
  });
  const chainId = opts.chainId ?? 31337;
  const nAccounts = opts.accounts ?? 10;
  const args = [
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--chain-id",
    String(chainId),
    "--accounts",
    String(nAccounts),
    "--mnemonic",
    ANVIL_MNEMONIC,
    "--silent",
  ];
  if (opts.blockTime !== undefined) args.push("--block-time", String(opts.blockTime));
  if (opts.timestamp !== undefined) args.push("--timestamp", String(opts.timestamp));
  if (opts.extraArgs) args.push(...opts.extraArgs);

  const child = spawnAnvil(bin, args);
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin?.end(); // the watchdog kills anvil and exits
      if (process.platform === "win32") child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
  };

  const rpcUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 15_000);
  for (;;) {
    if (child.exitCode !== null) {
      throw new ChainError("ANVIL_START_FAILED", `anvil exited with code ${child.exitCode}: ${stderr.trim()}`);
    }
    if (await rpcAnswers(rpcUrl)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new ChainError("ANVIL_START_FAILED", `anvil did not answer on ${rpcUrl}: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const accounts = Array.from({ length: nAccounts }, (_, i) => anvilKey(i));
  return { rpcUrl, chainId, accounts, stop };
}

/** Whether a JSON-RPC endpoint answers eth_chainId (a chain that is up). */
export async function rpcAnswers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
    });
    return res.ok;
  } catch {
    return false;
  }
}
