/** Dataset preparation settings. */
export interface PrepareOptions {
  /** Which bundled corpus (node/data/corpora.ts): "brown" (default) or "ethers-ts". */
  readonly corpus: string;
  /** Tokens per shard file (uint16 each, so 1M tokens = 2 MiB). */
  readonly shardTokens: number;
  /** Every n-th corpus file (in name order) goes to the held-out split: 20 = 5 % (a corpus may set its own default). */
  readonly heldoutEvery: number;
  /** Called with (done, total) files, e.g. to drive a progress bar. */
  readonly onProgress?: (done: number, total: number) => void;
}

export const defaultPrepareOptions: PrepareOptions = { corpus: "brown", shardTokens: 1 << 20, heldoutEvery: 20 };

/** Default location of the prepared dataset (gitignored). */
export const DEFAULT_DATASET_DIR = ".data/datasets/brown";
