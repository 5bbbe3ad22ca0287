#!/usr/bin/env node
// Postinstall: Hardhat 3's native EDR package, then an offline contract compile.
//
// Why: `@nomicfoundation/edr` declares its per-platform binaries as optionalDependencies with
// `engines.node >= 22`. An `npm ci` driven by a Node 20 npm (Debian's system Node here) silently skips
// them, and Hardhat later fails with HHE27. The `node` devDependency puts Node 22 first on the PATH of
// npm scripts, so this script runs on Node 22 whatever Node ran npm; it fetches the one matching binary
// package from the npm registry (`npm pack`), checks it against the lockfile's integrity, and unpacks it.
// It does nothing when the package is already there (Node 22 npm, or a second run).
// Then it compiles the contracts (solc from npm, no download): `cotrain testnet` and `cotrain deploy`
// read the artifacts, so a fresh `npm ci && npm start` must find them.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = process.cwd();
const edrDir = join(root, "node_modules/@nomicfoundation/edr");
if (!existsSync(edrDir)) process.exit(0); // production install without Hardhat

ensureEdr();
try {
  execFileSync(process.execPath, [join(root, "node_modules/hardhat/dist/src/cli.js"), "compile", "--quiet"], {
    stdio: "inherit",
  });
} catch {
  // Not fatal: `npm test` compiles too, and `npx hardhat compile` shows the reason.
  console.warn("postinstall: `hardhat compile` failed; run `npx hardhat compile` to see why");
}

function ensureEdr() {
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")).packages ?? {};
  const edr = JSON.parse(readFileSync(join(edrDir, "package.json"), "utf8"));
  const glibc = process.report?.getReport?.().header?.glibcVersionRuntime;
  const libc = process.platform === "linux" ? (glibc ? "glibc" : "musl") : undefined;
  const matches = (list, value) => !list || list.includes(value);
  for (const [name, version] of Object.entries(edr.optionalDependencies ?? {})) {
    const entry = lock[`node_modules/${name}`];
    if (!entry) continue;
    if (!matches(entry.os, process.platform) || !matches(entry.cpu, process.arch)) continue;
    if (entry.libc && !matches(entry.libc, libc)) continue;
    const target = join(root, "node_modules", name);
    if (existsSync(join(target, "package.json"))) return;

    console.log(`postinstall: ${name}@${version} was skipped by npm (engines node >= 22); installing it`);
    const tmp = mkdtempSync(join(tmpdir(), "cotrain-edr-"));
    try {
      const npmCli = process.env.npm_execpath;
      const args = ["pack", `${name}@${version}`, "--pack-destination", tmp, "--json", "--ignore-scripts"];
      const out = npmCli?.endsWith(".js")
        ? execFileSync(process.execPath, [npmCli, ...args], { encoding: "utf8" })
        : execFileSync("npm", args, { encoding: "utf8" });
      const file = join(tmp, JSON.parse(out)[0].filename);
      const [algo, expected] = entry.integrity.split("-");
      const actual = createHash(algo).update(readFileSync(file)).digest("base64");
      if (actual !== expected) throw new Error(`integrity mismatch for ${name}@${version}`);
      mkdirSync(target, { recursive: true });
      execFileSync("tar", ["xzf", file, "-C", target, "--strip-components=1"]);
      console.log(`postinstall: ${name}@${version} installed`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    return;
  }
}
