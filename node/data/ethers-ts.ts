import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { Corpus } from "./corpus.ts";
import { DataError } from "./errors.ts";

/**
 * Source code as a second corpus: the hand-written TypeScript of ethers v6 (`ethers/src.ts`, MIT),
 * which the node already depends on, so it adds nothing to `npm ci`. Code is the strongest distribution
 * shift from Brown's edited prose that the registry offers (braces, indentation, identifiers, JSDoc), which
 * is what a continual pre-training stage needs to show forgetting (docs/continual.md).
 */
const require = createRequire(import.meta.url);

/** A line longer than this marks generated data (the wordlists' encoded blobs), not code: the file is left out. */
const MAX_LINE = 1000;

export function ethersDir(): string {
  let dir: string;
  try {
    dir = path.dirname(require.resolve("ethers"));
  } catch {
    throw new DataError("NO_CORPUS", "the ethers package is not installed");
  }
  // "exports" hides ethers/package.json from require.resolve: walk up from the entry point.
  while (!isEthersRoot(dir)) {
    const up = path.dirname(dir);
    if (up === dir) throw new DataError("NO_CORPUS", "cannot find the ethers package folder");
    dir = up;
  }
  return dir;
}

function isEthersRoot(dir: string): boolean {
  const pj = path.join(dir, "package.json");
  if (!existsSync(pj)) return false;
  return (JSON.parse(readFileSync(pj, "utf8")) as { name?: string }).name === "ethers";
}

export function ethersVersion(dir = ethersDir()): string {
  return (JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { version: string }).version;
}

/** `.ts` files under src.ts as posix paths relative to it, sorted by code unit (locale-independent). */
export function ethersSourceFiles(dir = ethersDir()): string[] {
  const root = path.join(dir, "src.ts");
  if (!existsSync(root)) throw new DataError("NO_CORPUS", `no src.ts folder in ${dir}`);
  return (readdirSync(root, { recursive: true }) as string[])
    .map((f) => f.split(path.sep).join("/"))
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
    .filter((f) =>
      readEthersSource(f, dir)
        .split("\n")
        .every((l) => l.length <= MAX_LINE),
    )
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** One source file with a first line naming it, so a document's start says what follows. LF line ends. */
export function readEthersSource(file: string, dir = ethersDir()): string {
  const text = readFileSync(path.join(dir, "src.ts", file), "utf8").replace(/\r\n?/g, "\n");
  return `// ethers/src.ts/${file}\n${text}`;
}

export const ethersTsCorpus: Corpus = {
  name: "ethers-ts",
  packageName: "ethers",
  // ~130 files: every 10th keeps ~10 % of the code (13 files) held out rather than 7 files at 5 %.
  heldoutEvery: 10,
  source: () => `ethers@${ethersVersion()}/src.ts`,
  documents: () => ethersSourceFiles(),
  read: (file) => readEthersSource(file),
};
