import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** `cotrain testnet` as a user runs it, for the e2e tests that start, stop and restart a local testnet. */

const NODE = join(process.cwd(), "node_modules/.bin/node");
const MAIN = join(process.cwd(), "node/cli/main.ts");

/** One-shot CLI command (status, join) as a separate process. */
export function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(NODE, ["--import", "tsx", MAIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

export interface Run {
  child: ChildProcess;
  lines: string[];
  /** Resolves with the first stdout line matching `re`. */
  waitFor(re: RegExp, timeoutMs: number): Promise<string>;
  exited: Promise<number | null>;
}

/** `cotrain testnet …` as a user runs it: a child process, stdout read line by line. */
export function start(args: string[]): Run {
  // Its own process group, like a shell job: Ctrl-C is then a SIGINT to the whole group (below).
  const child = spawn(NODE, ["--import", "tsx", MAIN, "testnet", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const lines: string[] = [];
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  let buf = "";
  child.stdout?.on("data", (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split("\n");
    buf = parts.pop() ?? "";
    for (const l of parts) {
      lines.push(l);
      for (const w of waiters.filter((w) => w.re.test(l))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(l);
      }
    }
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    waitFor(re, timeoutMs) {
      const seen = lines.find((l) => re.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () =>
            reject(
              new Error(`no line matching ${re} in ${timeoutMs} ms; stdout:\n${lines.join("\n")}\nstderr:\n${stderr}`),
            ),
          timeoutMs,
        );
        waiters.push({
          re,
          resolve: (l) => {
            clearTimeout(t);
            resolve(l);
          },
        });
        exited.then(() =>
          setTimeout(
            () => reject(new Error(`exited before ${re}; stdout:\n${lines.join("\n")}\nstderr:\n${stderr}`)),
            100,
          ),
        );
      });
    },
  };
}

/** pids every node process of the data dir logged (pino writes its pid on each line). */
export function nodePids(dir: string): number[] {
  const pids = new Set<number>();
  for (const name of readdirSync(dir)) {
    const log = join(dir, name, `${name}.log`);
    if (!existsSync(log)) continue;
    for (const m of readFileSync(log, "utf8").matchAll(/"pid":(\d+)/g)) pids.add(Number(m[1]));
  }
  return [...pids];
}

/** The chain's RPC URL from the first status line; after a stop nothing may answer there (anvil is gone). */
export const rpcOf = (line: string) => / on (http:\/\/127\.0\.0\.1:\d+);/.exec(line)?.[1] ?? "";
export const rpcAnswers = (url: string) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
  }).then(
    () => true,
    () => false,
  );

export const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
