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
  published?: { payloadHash: Hash32 };
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
 */
export class StateStore {
  private ef: ParamMap = new Map();

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
    const state = stored ? await this.fromStored(stored) : this.genesis();
    if (this.opts.errorFeedback) {
      const ef = stored?.errorFeedback;
      this.ef =
        ef && this.deps.specs.every((s) => ef.has(s.name)) ? ef : zeroErrorFeedback(this.deps.specs, state.params);
    }
    return state;
  }

  /** Writes θ (+ the EF buffer) and the round record in one batch. */
  async commit(state: ModelState, record?: RoundRecord, extraOps?: BatchOp[]): Promise<void> {
    await this.deps.store.peerState.commitRound({
      round: state.round,
      modelHash: state.hash,
      params: state.params,
      errorFeedback: this.ef,
      record,
      extraOps,
    });
  }

  /**
   * The round's update is about to go out: the EF buffer after compression, the payload blob (`extraOps`)
   * and the "published" round record land in one batch before the announcement, so a crash after this
   * point resumes without retraining and never announces a second, different update.
   */
  async commitPublished(
    state: ModelState,
    errorFeedback: ParamMap,
    payloadHash: Hash32,
    record: RoundRecord,
    extraOps: BatchOp[],
  ): Promise<ModelState> {
    const previous = this.ef;
    this.ef = errorFeedback;
    try {
      await this.commit(state, record, extraOps);
    } catch (err) {
      this.ef = previous;
      throw err;
    }
    return { ...state, published: { payloadHash } };
  }

  private async fromStored(stored: { round: number; params: ParamMap; modelHash: string }): Promise<ModelState> {
    const record = await this.deps.store.rounds.get(stored.round);
    const published =
      record?.status === "published" && record.ownPayloadHash
        ? { payloadHash: parseHash32(record.ownPayloadHash, `round record ${stored.round} ownPayloadHash`) }
        : undefined;
    return {
      round: stored.round,
      params: stored.params,
      hash: parseHash32(stored.modelHash, "stored modelHash"),
      published,
    };
  }
}
