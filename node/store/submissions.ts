import { Bucket } from "./buckets.ts";
import type { Db } from "./db.ts";
import { bucketRange, json, key, readJson, u32 } from "./codec.ts";

/**
 * A validator's submitScores for one round. Written as "pending" with the signed tx hash BEFORE the
 * broadcast and "confirmed" after the receipt, so a validator restarted in between looks the tx up
 * instead of submitting (and paying) twice.
 */
export interface SubmissionRecord {
  round: number;
  txHash: string;
  status: "pending" | "confirmed" | "failed";
  modelHash?: string;
  /** Unix ms. */
  at: number;
}

export class SubmissionRepository {
  constructor(private readonly db: Db) {}

  async get(round: number): Promise<SubmissionRecord | undefined> {
    const v = await this.db.get(key(Bucket.validatorSubmissions, u32(round)));
    return v && readJson<SubmissionRecord>(v, `submission ${round}`);
  }

  /** True when a pending or confirmed submission exists for `round`. */
  async has(round: number): Promise<boolean> {
    const r = await this.get(round);
    return r !== undefined && r.status !== "failed";
  }

  async record(rec: Omit<SubmissionRecord, "at"> & { at?: number }): Promise<void> {
    await this.db.put(
      key(Bucket.validatorSubmissions, u32(rec.round)),
      json({ ...rec, at: rec.at ?? Date.now() }),
      true,
    );
  }

  async all(): Promise<SubmissionRecord[]> {
    const out: SubmissionRecord[] = [];
    for await (const [, v] of this.db.entries(bucketRange(Bucket.validatorSubmissions)))
      out.push(readJson<SubmissionRecord>(v, "submission"));
    return out;
  }
}
