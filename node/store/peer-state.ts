import type { ParamMap } from "../sparseloco/types.ts";
import { Bucket } from "./buckets.ts";
import type { BatchOp, Db } from "./db.ts";
import { StoreError } from "./errors.ts";
import { bucketRange, bytesToF32, f32ToBytes, json, key, readJson, readStr, str, u32 } from "./codec.ts";
import type { RoundRecord } from "./rounds.ts";

/**
 * The round marker: the stored tensors are the state at the START of `round` (θ_round, whose hash is
 * `modelHash`, and the EF buffer after compressing round-1's pseudo-gradient). It lists the tensor
 * names it covers, so a reader never mixes tensors of two commits.
 */
export interface PeerStateMarker {
  round: number;
  modelHash: string;
  params: string[];
  errorFeedback: string[];
  optimizer?: string[];
  /** Unix ms of the commit, for operators. */
  committedAt: number;
}

export interface PeerState {
  round: number;
  modelHash: string;
  params: ParamMap;
  errorFeedback: ParamMap;
  optimizer?: ParamMap;
}

export interface CommitRoundInput {
  /** The round these tensors are the start of. */
  round: number;
  /** H(θ_round) */
  modelHash: string;
  /** θ_round; omitted when the stored θ is already this round's (only the EF buffer changes). */
  params?: ParamMap;
  errorFeedback: ParamMap;
  optimizer?: ParamMap;
  /** A round record written in the same batch (typically round-1's, now aggregated). */
  record?: RoundRecord;
  /** Any other writes that must land together with the state (e.g. blob ops). */
  extraOps?: BatchOp[];
}

const MARKER_KEY = key(Bucket.peerMarker, str("current"));

type TensorBucket = Bucket.peerParams | Bucket.peerErrorFeedback | Bucket.peerOptimizer;

/**
 * The peer's training state: master parameters, SparseLoCo error feedback, optional optimizer state.
 * `commitRound` writes all of it plus the marker in ONE LevelDB batch: after a crash at any instant
 * the store holds either the previous commit or the new one, never a mix (the restart rule).
 */
export class PeerStateRepository {
  constructor(
    private readonly db: Db,
    private readonly sync: boolean,
  ) {}

  async commitRound(input: CommitRoundInput): Promise<void> {
    const ops: BatchOp[] = [];
    const marker: PeerStateMarker = {
      round: input.round,
      modelHash: input.modelHash,
      params: input.params
        ? await this.tensorOps(ops, Bucket.peerParams, input.params)
        : await this.storedParams(input),
      errorFeedback: await this.tensorOps(ops, Bucket.peerErrorFeedback, input.errorFeedback),
      optimizer: await this.tensorOps(ops, Bucket.peerOptimizer, input.optimizer ?? new Map()),
      committedAt: Date.now(),
    };
    if (input.optimizer === undefined) delete marker.optimizer;
    if (input.record)
      ops.push({ type: "put", key: key(Bucket.rounds, u32(input.record.round)), value: json(input.record) });
    if (input.extraOps) ops.push(...input.extraOps);
    ops.push({ type: "put", key: MARKER_KEY, value: json(marker) });
    await this.db.batch(ops, this.sync);
  }

  /** The tensor list of the stored θ, which must be the one `input` names (round and hash). */
  private async storedParams(input: CommitRoundInput): Promise<string[]> {
    const m = await this.marker();
    if (!m || m.round !== input.round || m.modelHash !== input.modelHash)
      throw new StoreError(
        "INCONSISTENT_STATE",
        `commit without θ for round ${input.round}, but the store holds round ${m?.round ?? "none"}`,
      );
    return m.params;
  }

  async marker(): Promise<PeerStateMarker | undefined> {
    const v = await this.db.get(MARKER_KEY);
    return v && readJson<PeerStateMarker>(v, "peer state marker");
  }

  /** The last committed state (fresh Float32Arrays, bit-exact), or undefined on a fresh store. */
  async load(): Promise<PeerState | undefined> {
    const m = await this.marker();
    if (!m) return undefined;
    const state: PeerState = {
      round: m.round,
      modelHash: m.modelHash,
      params: await this.readTensors(Bucket.peerParams, m.params),
      errorFeedback: await this.readTensors(Bucket.peerErrorFeedback, m.errorFeedback),
    };
    if (m.optimizer) state.optimizer = await this.readTensors(Bucket.peerOptimizer, m.optimizer);
    return state;
  }

  /** Puts every tensor of `map` and deletes the bucket's keys that `map` no longer has. */
  private async tensorOps(ops: BatchOp[], bucket: TensorBucket, map: ParamMap): Promise<string[]> {
    for await (const k of this.db.keys(bucketRange(bucket))) {
      if (!map.has(readStr(k.subarray(1)))) ops.push({ type: "del", key: k });
    }
    const names: string[] = [];
    for (const [name, values] of map) {
      ops.push({ type: "put", key: key(bucket, str(name)), value: f32ToBytes(values) });
      names.push(name);
    }
    return names;
  }

  private async readTensors(bucket: TensorBucket, names: string[]): Promise<ParamMap> {
    const values = await this.db.getMany(names.map((n) => key(bucket, str(n))));
    const out: ParamMap = new Map();
    names.forEach((name, i) => {
      const v = values[i];
      if (!v)
        throw new StoreError(
          "INCONSISTENT_STATE",
          `marker lists tensor ${name} (bucket ${bucket}) but the store has none`,
        );
      out.set(name, bytesToF32(v, name));
    });
    return out;
  }
}
