import { Bucket } from "./buckets.ts";
import type { BatchOp, Db } from "./db.ts";
import { bucketRange, json, key, readJson, readStr, str, u32 } from "./codec.ts";

/** A validator's view of one peer across rounds (OpenSkill rating + proof-of-training average). */
export interface StoredRating {
  mu: number;
  sigma: number;
  /** Binary moving average of the proof-of-training signal (covenant-facts §3, BMA). */
  bma?: number;
  /** Rounds this peer was rated in. */
  rounds?: number;
  lastRound: number;
}

/** One peer's scored components in one round; the scoring module's `ScoreComponents` fits here. */
export type ScoreHistoryEntry = { address: string } & Record<string, unknown>;

function addr(a: string): Uint8Array {
  return str(a.toLowerCase());
}

/**
 * Ratings per peer address plus the per-round score history. `commitRound` writes a round's scores and
 * the updated ratings in one batch, so a validator restarted mid-round never double-counts a round.
 */
export class RatingRepository {
  constructor(private readonly db: Db) {}

  async get(address: string): Promise<StoredRating | undefined> {
    const v = await this.db.get(key(Bucket.ratings, addr(address)));
    return v && readJson<StoredRating>(v, `rating ${address}`);
  }

  async all(): Promise<Map<string, StoredRating>> {
    const out = new Map<string, StoredRating>();
    for await (const [k, v] of this.db.entries(bucketRange(Bucket.ratings))) {
      out.set(readStr(k.subarray(1)), readJson<StoredRating>(v, "rating"));
    }
    return out;
  }

  commitOps(
    round: number,
    ratings: ReadonlyMap<string, StoredRating>,
    history: readonly ScoreHistoryEntry[],
  ): BatchOp[] {
    const ops: BatchOp[] = [];
    for (const [a, r] of ratings) ops.push({ type: "put", key: key(Bucket.ratings, addr(a)), value: json(r) });
    for (const h of history) {
      ops.push({
        type: "put",
        key: key(Bucket.scoreHistory, u32(round), addr(h.address)),
        value: json({ ...h, address: h.address.toLowerCase() }),
      });
    }
    return ops;
  }

  async commitRound(
    round: number,
    ratings: ReadonlyMap<string, StoredRating>,
    history: readonly ScoreHistoryEntry[],
  ): Promise<void> {
    await this.db.batch(this.commitOps(round, ratings, history));
  }

  /** The score components recorded for `round`, by address order. */
  async history(round: number): Promise<ScoreHistoryEntry[]> {
    const out: ScoreHistoryEntry[] = [];
    const gte = key(Bucket.scoreHistory, u32(round));
    const lt = round === 0xffffffff ? bucketRange(Bucket.scoreHistory).lt : key(Bucket.scoreHistory, u32(round + 1));
    for await (const [, v] of this.db.entries({ gte, lt })) out.push(readJson<ScoreHistoryEntry>(v, "score history"));
    return out;
  }
}
