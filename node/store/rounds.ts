import { Bucket } from "./buckets.ts";
import type { BatchOp, Db } from "./db.ts";
import { bucketRange, json, key, readJson, u32 } from "./codec.ts";

/** Seconds spent in each phase of a round (DESIGN.md "A round, end to end"); absent = not run. */
export interface RoundTimings {
  train?: number;
  compress?: number;
  /** Commit + announce of the own update. */
  publish?: number;
  gather?: number;
  aggregate?: number;
  chain?: number;
  /** A peer's wall time from the end of its previous inner loop to the end of this one. */
  wall?: number;
  /** train / wall: the share of the peer's time its accelerator trained (docs/roles.md "Utilization"). */
  utilization?: number;
}

export interface GatheredUpdate {
  /** Ethereum address of the announcer (lowercase 0x hex). */
  address: string;
  /** libp2p PeerId (string form), when known. */
  peerId?: string;
  /** sha256 hex of the update payload (the blob key). */
  payloadHash: string;
}

export type RoundStatus = "training" | "published" | "aggregated" | "finalized" | "skipped" | "failed";

/** What this node saw and did in one round; JSON so that it stays readable with a LevelDB dump. */
export interface RoundRecord {
  round: number;
  /** H(θ_r), the model the round trained from. */
  baseModelHash: string;
  /** H(θ_{r+1}) after the outer step, once aggregated. */
  newModelHash?: string;
  /** The updates applied in the outer step, in the fixed aggregation order. */
  gathered: GatheredUpdate[];
  /** This node's own update, when it published one. */
  ownPayloadHash?: string;
  /** Samples the own update trained on (a prefix of its assignment; its announcement carries the count). */
  samples?: number;
  timings: RoundTimings;
  /** Loss values the node measured, e.g. {trainFirst, trainLast, heldOut}. */
  losses: Record<string, number>;
  status: RoundStatus;
  /** Free-form reason when status is "failed". */
  error?: string;
}

export class RoundRepository {
  constructor(private readonly db: Db) {}

  putOp(record: RoundRecord): BatchOp {
    return { type: "put", key: key(Bucket.rounds, u32(record.round)), value: json(record) };
  }

  async put(record: RoundRecord): Promise<void> {
    await this.db.batch([this.putOp(record)]);
  }

  async get(round: number): Promise<RoundRecord | undefined> {
    const v = await this.db.get(key(Bucket.rounds, u32(round)));
    return v && readJson<RoundRecord>(v, `round record ${round}`);
  }

  /** The highest-numbered record, if any. */
  async latest(): Promise<RoundRecord | undefined> {
    for await (const [, v] of this.db.entries({ ...bucketRange(Bucket.rounds), reverse: true, limit: 1 })) {
      return readJson<RoundRecord>(v, "latest round record");
    }
    return undefined;
  }

  /** Records with from <= round < to, ascending. */
  async range(from: number, to: number): Promise<RoundRecord[]> {
    const out: RoundRecord[] = [];
    if (to <= from) return out;
    const lt = to > 0xffffffff ? bucketRange(Bucket.rounds).lt : key(Bucket.rounds, u32(to));
    for await (const [, v] of this.db.entries({ gte: key(Bucket.rounds, u32(from)), lt })) {
      out.push(readJson<RoundRecord>(v, "round record"));
    }
    return out;
  }
}
