import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, existsSync, readFileSync, rmSync } from "node:fs";
import { getPriority, setPriority } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../cli/main.ts", import.meta.url));

/** A `cotrain <role>` child process with its log file and data dir. */
export interface NodeProcess {
  name: string;
  role: "peer" | "validator";
  dataDir: string;
  logFile: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

/** Which program runs a node: the cotrain CLI by default, or another entry point taking the same arguments. */
export interface NodeLaunch {
  /** A script that takes `cotrain` arguments (e.g. tests/fixtures/node-entry.ts, which adds test hooks). */
  entry?: string;
  /** Arguments placed before the role (the entry's own flags). */
  args?: string[];
}

/**
 * The environment of a launched node: the launcher's, without its COTRAIN_* settings. A node's settings
 * come from the config file the launcher wrote for it, and env beats file (flags > env > file), so a
 * COTRAIN_DATA_DIR or COTRAIN_RPC meant for the launcher would send every node to the same directory or
 * chain (the launcher then waited for listen addresses that never came). COTRAIN_PASSWORD stays (empty
 * when unset): the nodes' keys are the launcher's.
 */
export function nodeEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const kept = Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith("COTRAIN_")));
  return { ...kept, COTRAIN_PASSWORD: env.COTRAIN_PASSWORD ?? "" };
}

/**
 * Spawns `cotrain <role> --config <file>` on this Node binary (tsx loader), stdout+stderr to a log file.
 * The child is a separate process with its own key and data dir, like an operator's node.
 */
export function spawnNode(
  name: string,
  role: "peer" | "validator",
  configFile: string,
  dataDir: string,
  launch: NodeLaunch = {},
): NodeProcess {
  const logFile = join(dataDir, `${name}.log`);
  rmSync(join(dataDir, "multiaddrs.json"), { force: true });
  const out = createWriteStream(logFile, { flags: "a" });
  const argv = ["--import", "tsx", launch.entry ?? MAIN, ...(launch.args ?? []), role, "--config", configFile];
  const child = spawn(process.execPath, argv, {
    stdio: ["ignore", "pipe", "pipe"],
    env: nodeEnv(process.env),
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  if (role === "peer" && child.pid !== undefined) lowerPriority(child.pid);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { name, role, dataDir, logFile, child, exited };
}

/**
 * Nice levels a local peer runs below its launcher. On one shared machine the peers' training would take
 * every core from the validator, which must gather and score each round inside its window; on a real
 * network each node has its own hardware. A peer now trains for its whole round (time budget), so the
 * contention is constant: on the 2-core box scoring took 1.5 s with the cores to itself, 2.5-4 s beside
 * three peers training a fixed H at +5, and 17-25 s for a 15 s window beside three time-budgeted peers
 * at the validator's own priority. At +10 the scheduler gives the validator ~9× a peer's CPU weight
 * while it scores, and the peers everything the rest of the round.
 */
export const PEER_NICE_OFFSET = 10;

function lowerPriority(pid: number): void {
  try {
    setPriority(pid, Math.min(19, getPriority() + PEER_NICE_OFFSET));
  } catch {
    // not permitted here, or the child already exited: it runs at the launcher's priority
  }
}

/** Waits for the node to write its libp2p multiaddrs (it does so once listening). */
export async function waitForMultiaddrs(node: NodeProcess, timeoutMs = 60_000): Promise<string[]> {
  const file = join(node.dataDir, "multiaddrs.json");
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (node.child.exitCode !== null)
      throw new Error(`${node.name} exited with ${node.child.exitCode}; see ${node.logFile}`);
    if (existsSync(file)) {
      const addrs = JSON.parse(readFileSync(file, "utf8")) as string[];
      if (addrs.length > 0) return addrs;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${node.name} did not start listening within ${timeoutMs} ms; see ${node.logFile}`);
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopNode(node: NodeProcess, graceMs = 10_000): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return;
  node.child.kill("SIGTERM");
  const timer = setTimeout(() => node.child.kill("SIGKILL"), graceMs);
  await node.exited;
  clearTimeout(timer);
}

/** Parsed JSON log lines of a node (pino writes one object per line). */
export function readLog(node: Pick<NodeProcess, "logFile">): Array<Record<string, unknown>> {
  if (!existsSync(node.logFile)) return [];
  return readFileSync(node.logFile, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    });
}
