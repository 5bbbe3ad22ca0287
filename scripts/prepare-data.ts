/**
 * Tokenizes every bundled corpus (node/data/corpora.ts: Brown, the ethers TypeScript sources) into uint16
 * shards + manifest.json under <root>/<corpus>. Idempotent: a verified preparation is kept.
 * Usage: npm run prepare-data -- [--root .data/datasets] [--corpus NAME]... [--out DIR (one corpus)] [--shard-tokens N]
 * stdout: one JSON line per corpus with its manifest hash (the name run configs use).
 */
import path from "node:path";
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import { CORPUS_NAMES, corpusByName, DEFAULT_DATASETS_ROOT, prepareDataset } from "../node/data/index.ts";

const { values } = parseArgs({
  options: {
    root: { type: "string", default: DEFAULT_DATASETS_ROOT },
    corpus: { type: "string", multiple: true },
    out: { type: "string" },
    "shard-tokens": { type: "string" },
  },
});
const names = values.corpus ?? [...CORPUS_NAMES];
for (const n of names) corpusByName(n); // unknown names fail before any work
if (values.out !== undefined && names.length !== 1) throw new Error("--out: give exactly one --corpus with it");
const shardTokens = values["shard-tokens"] === undefined ? undefined : Number(values["shard-tokens"]);
if (shardTokens !== undefined && !(Number.isInteger(shardTokens) && shardTokens > 0))
  throw new Error(`--shard-tokens: a positive integer, got ${values["shard-tokens"]}`);

for (const name of names) {
  const out = values.out ?? path.join(values.root, name);
  const bar = new cliProgress.SingleBar(
    { format: `${name} [{bar}] {value}/{total} documents`, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const { manifest, manifestHash, skipped } = prepareDataset(out, {
    corpus: name,
    ...(shardTokens ? { shardTokens } : {}),
    onProgress: (done, total) => {
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.update(done);
    },
  });
  if (started) bar.stop();
  const s = manifest.splits;
  console.log(
    JSON.stringify({
      corpus: name,
      out,
      skipped,
      source: manifest.source,
      manifest_hash: manifestHash,
      train_tokens: s.train.tokens,
      heldout_tokens: s.heldout.tokens,
      shards: s.train.shards.length + s.heldout.shards.length,
    }),
  );
}
