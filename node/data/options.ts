/** Dataset preparation settings. */
export interface PrepareOptions {
  /** Tokens per shard file (uint16 each, so 1M tokens = 2 MiB). */
  readonly shardTokens: number;
  /** Every n-th corpus file (in name order) goes to the held-out split: 20 = 5 %. */
  readonly heldoutEvery: number;
  /** Called with (done, total) files, e.g. to drive a progress bar. */
  readonly onProgress?: (done: number, total: number) => void;
}

export const defaultPrepareOptions: PrepareOptions = { shardTokens: 1 << 20, heldoutEvery: 20 };

/** Default location of the prepared dataset (gitignored). */
export const DEFAULT_DATASET_DIR = ".data/datasets/brown";
