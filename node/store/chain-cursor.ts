import { Bucket } from "./buckets.ts";
import type { Db } from "./db.ts";
import { key, readU64, str, u64 } from "./codec.ts";

/** Where the chain event indexer resumes: the last block whose events were fully processed. */
export interface ChainCursor {
  load(): Promise<number | undefined>;
  save(block: number): Promise<void>;
}

/** A named cursor (one per indexer, e.g. "events"), stored as a u64. */
export function createChainCursor(db: Db, name = "events"): ChainCursor {
  const k = key(Bucket.chainCursor, str(name));
  return {
    async load() {
      const v = await db.get(k);
      return v === undefined ? undefined : readU64(v);
    },
    async save(block: number) {
      await db.put(k, u64(block));
    },
  };
}
