import { type Hash32, parseHash32 } from "../hash/index.ts";
import { type ParamMap, type TensorSpec, modelHash, zeroErrorFeedback } from "../sparseloco/index.ts";
import type { BatchOp, PeerStateRepository, RoundRecord, RoundRepository } from "../store/index.ts";

/**
 * The canonical model a node holds at the start of `round` (DESIGN step 1): θ_round and H(θ_round), the
 * same bytes on every honest node. `published` marks that this node already announced its update for
 * `round`, so a restart neither retrains nor announces a second, different update.
 */
export interface ModelState {
  round: number;
  params: ParamMap;
  hash: Hash32;
}

export interface StateStoreOptions {
  /** Peers keep a SparseLoCo error-feedback buffer; validators hold none (it would be a second model). */
  errorFeedback: boolean;
}

export interface StateStoreDependencies {
  store: { peerState: PeerStateRepository; rounds: Pick<RoundRepository, "get"> };
  specs: readonly TensorSpec[];
  /** θ_0 from the run's seed: every node starts from the same bytes (the first link of the hash chain). */
  genesisParams: () => ParamMap;
}

/**
 * θ and, for a peer, its private error-feedback buffer, as the store keeps them: the EF buffer is this
 * peer's own compression history, never part of the canonical state other nodes agree on, but it is
 * written in the same LevelDB batch as θ so that a crash leaves either the old or the new pair.
 *
 * A peer commits from two places at once (its model loop: θ_{r+1} after each outer step; its training
 * loop: the EF buffer with each published update), so commits run one at a time, each writing the
 * newest θ and the newest EF buffer, and a round's record is merged with what is stored for that round.
 */
export class StateStore {
  private ef: ParamMap = new Map();
  private current: ModelState | null = null;
  /** The state whose θ the store holds (null until this process wrote one). */
  private written: ModelState | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly opts: StateStoreOptions,
    private readonly deps: StateStoreDependencies,
  ) {}

  /** The peer's EF buffer after its last compression (empty for a validator). */
  get errorFeedback(): ParamMap {
    return this.ef;
  }

  genesis(): ModelState {
    const params = this.deps.genesisParams();
    return { round: 0, params, hash: modelHash(params, this.deps.specs) };
  }

  /** The last committed state (θ_0 when the store is empty); loads the EF buffer too (zeros when none). */
  async load(): Promise<ModelState> {
    const stored = await this.deps.store.peerState.load();
    const state: ModelState = stored
      ? { round: stored.round, params: stored.params, hash: parseHash32(stored.modelHash, "stored modelHash") }
      : this.genesis();
    if (this.opts.errorFeedback) {
      const ef = stored?.errorFeedback;
      this.ef =
        ef && this.deps.specs.every((s) => ef.has(s.name)) ? ef : zeroErrorFeedback(this.deps.specs, state.params);
    }
    this.current = state;
    return state;
  }

  /** Writes θ (+ the EF buffer) and the round record (merged with the stored one) in one batch. */
  commit(state: ModelState, record?: RoundRecord, extraOps?: BatchOp[]): Promise<void> {
    return this.serial(async () => {
      await this.write(state, this.ef, record, extraOps);
      this.current = state;
    });
  }

  /**
   * The round's update is about to go out: the EF buffer after compression, the payload blob (`extraOps`)
   * and the round's record with the own payload hash land in one batch (with the newest θ) before the
   * announcement, so a crash after this point resumes without retraining and never announces a
   * second, different update.
   */
  commitPublished(errorFeedback: ParamMap, record: RoundRecord, extraOps: BatchOp[]): Promise<void> {
    return this.serial(async () => {
      // θ on disk is the newest one once committed: rewrite only the EF buffer (half the bytes).
      const state = this.current ?? (await this.load());
      await this.write(state, errorFeedback, record, extraOps, this.written === state);
      this.ef = errorFeedback;
    });
  }

  /** Whether this node already published its update for `round` (its record holds the payload hash). */
  async publishedIn(round: number): Promise<Hash32 | null> {
    const rec = await this.deps.store.rounds.get(round);
    return rec?.ownPayloadHash ? parseHash32(rec.ownPayloadHash, `round record ${round} ownPayloadHash`) : null;
  }

  private async write(
    state: ModelState,
    ef: ParamMap,
    record?: RoundRecord,
    extraOps?: BatchOp[],
    paramsStored = false,
  ): Promise<void> {
    const merged = record && mergeRecord(await this.deps.store.rounds.get(record.round), record);
    await this.deps.store.peerState.commitRound({
      round: state.round,
      modelHash: state.hash,
      params: paramsStored ? undefined : state.params,
      errorFeedback: ef,
      record: merged,
      extraOps,
    });
    this.written = state;
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.queue.then(f, f);
    this.queue = run.catch(() => {});
    return run;
  }
}

const STATUS_ORDER: Record<RoundRecord["status"], number> = {
  training: 0,
  published: 1,
  aggregated: 2,
  finalized: 3,
  skipped: 3,
  failed: 4,
};

/**
 * A round's record is written by the training loop (the own update: base, payload, samples, train
 * timings) and later by the model loop (gathered set, new model hash, gather timings): each keeps the
 * other's fields. The announced base stays as published, since a restart rebuilds the own announcement
 * from it.
 */
export function mergeRecord(stored: RoundRecord | undefined, next: RoundRecord): RoundRecord {
  if (!stored) return next;
  const own = stored.ownPayloadHash !== undefined && next.ownPayloadHash === undefined;
  return {
    ...stored,
    ...next,
    baseModelHash: own ? stored.baseModelHash : next.baseModelHash,
    newModelHash: next.newModelHash ?? stored.newModelHash,
    gathered: next.gathered.length > 0 || next.newModelHash !== undefined ? next.gathered : stored.gathered,
    ownPayloadHash: next.ownPayloadHash ?? stored.ownPayloadHash,
    samples: next.samples ?? stored.samples,
    timings: { ...stored.timings, ...next.timings },
    losses: { ...stored.losses, ...next.losses },
    status: STATUS_ORDER[next.status] >= STATUS_ORDER[stored.status] ? next.status : stored.status,
  };
}
