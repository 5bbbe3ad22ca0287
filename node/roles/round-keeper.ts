import type { Logger } from "pino";
import { type Hash32, bytesToHex, parseHash32 } from "../hash/index.ts";
import type { Metrics } from "../metrics/index.ts";
import { loadCheckpoint } from "../model/index.ts";
import type { P2PNode } from "../p2p/index.ts";
import { type SparseLocoOptions, type TensorSpec, nextModel } from "../sparseloco/index.ts";
import type { BlobRepository, RoundRecord, RoundRepository } from "../store/index.ts";
import { buildAnnouncement } from "./announcement.ts";
import type { FinalizedRound } from "./chain-view.ts";
import { RoleError } from "./errors.ts";
import type { Dropped, Gathered, Received, UpdateInbox } from "./inbox.ts";
import type { ModelState, StateStore } from "./state-store.ts";
import type { ChainReader, PeerRegistry } from "./views.ts";

export interface RoundKeeperOptions {
  /** How long to keep fetching announced payloads. */
  fetchTimeoutMs: number;
  /** The run's outer step: chunk layout and α. */
  outer: Pick<SparseLocoOptions, "topk" | "targetChunk"> & { alpha: number };
}

export interface RoundKeeperDependencies {
  address: string;
  chain: ChainReader;
  peers: PeerRegistry;
  inbox: UpdateInbox;
  state: Pick<StateStore, "commit" | "genesis">;
  store: {
    rounds: Pick<RoundRepository, "get">;
    blobs: Pick<BlobRepository, "get" | "put">;
    pruneBlobs(round: number): Promise<number>;
  };
  p2p: Pick<P2PNode, "fetchBlob">;
  specs: readonly TensorSpec[];
  metrics: Pick<Metrics, "phaseSeconds" | "updatesGathered" | "round"> | null;
  logger: Logger;
}

/** What a gather found: the updates for the outer step and those left out, with the time it took. */
export interface GatherResult {
  gathered: Gathered[];
  dropped: Dropped[];
  seconds: number;
}

/**
 * The shared round mechanics of peers and validators (DESIGN steps 1 and 5): gather the round's
 * updates, apply the outer step, and keep θ level with the chain (catch-up, replay, checkpoints).
 */
export class RoundKeeper {
  constructor(
    private readonly opts: RoundKeeperOptions,
    private readonly deps: RoundKeeperDependencies,
  ) {}

  /** Addresses whose updates round `round` aggregates: its gather set, or every registered peer. */
  async gatherAddresses(round: number): Promise<Set<string>> {
    await this.deps.peers.refresh();
    const peers = this.deps.peers.peerList;
    const set = this.deps.chain.gatherSetFor(round);
    return new Set(set === null ? peers : set.map((i) => peers[i]).filter((a): a is string => a !== undefined));
  }

  /** Fetches and decodes the round's gather set built on H(θ_round) (a peer's step 5). */
  async gather(state: ModelState): Promise<GatherResult> {
    const t0 = performance.now();
    const wanted = await this.gatherAddresses(state.round);
    await this.deps.inbox.sync(state.round);
    await this.restoreOwnAnnouncement(state.round);
    const { gathered, dropped } = await this.collect(state.round, wanted, state.hash);
    return this.timed({ gathered, dropped }, t0);
  }

  /** Fetches and decodes every update announced for `round`, whatever its base (a validator scores all). */
  async gatherAll(round: number): Promise<GatherResult> {
    const t0 = performance.now();
    await this.deps.peers.refresh(true);
    await this.deps.inbox.sync(round);
    const { gathered, dropped } = await this.collect(round, new Set(this.deps.peers.peerList), null);
    return this.timed({ gathered, dropped }, t0);
  }

  /** The announcements of `round` received so far, in arrival order. */
  received(round: number): Received[] {
    return this.deps.inbox.received(round);
  }

  /** The updates of `all` the outer step of `state.round` takes: the gather set's, built on H(θ_round). */
  async forStep(state: ModelState, all: readonly Gathered[]): Promise<Gathered[]> {
    const wanted = await this.gatherAddresses(state.round);
    return all.filter((g) => wanted.has(g.address) && bytesToHex(g.ann.baseModelHash) === state.hash);
  }

  /** θ_{round+1} from θ_round and the gathered updates (not committed). */
  step(state: ModelState, gathered: readonly Gathered[]): { next: ModelState; seconds: number } {
    const t0 = performance.now();
    const byPeer = new Map(gathered.map((g) => [g.address, g.update]));
    const { params, hash } = nextModel(state.params, byPeer, this.deps.specs, this.opts.outer);
    const seconds = (performance.now() - t0) / 1000;
    this.deps.metrics?.phaseSeconds.observe({ phase: "aggregate" }, seconds);
    this.deps.metrics?.updatesGathered.set(gathered.length);
    return { next: { round: state.round + 1, params, hash }, seconds };
  }

  /**
   * Brings `state` level with the chain (DESIGN "Catch-up"). Two cases, checked in this order:
   * - forked: our outer step of the newest finalized round we applied produced another hash than the
   *   chain's (we missed or saw other updates) → recompute that round from `prev` when we still hold θ
   *   of it, else rebuild from the checkpoint (or θ_0);
   * - behind: finalized rounds lie at or beyond the state's round → load the newest on-chain checkpoint
   *   if it is ahead, then replay each finalized round's included updates, verifying every hash.
   */
  async catchUp(state: ModelState, prev: ModelState | null): Promise<ModelState> {
    const level = await this.level(state, prev);
    this.deps.metrics?.round.set(level.round);
    return level;
  }

  private async level(state: ModelState, prev: ModelState | null): Promise<ModelState> {
    await this.deps.chain.sync();
    const last = this.deps.chain.lastFinalized();
    if (!last) return state;
    // The newest finalized round whose outer step we applied ourselves: did it give the chain's hash?
    const applied = Math.min(state.round - 1, last.round);
    const f = this.deps.chain.finalized.get(applied);
    const mine = applied === state.round - 1 ? state.hash : (await this.deps.store.rounds.get(applied))?.newModelHash;
    if (f && mine !== undefined && mine !== f.modelHash) {
      this.deps.logger.warn(
        { round: f.round, ours: mine.slice(0, 16), chain: f.modelHash.slice(0, 16) },
        "model hash differs from the finalized one; recomputing",
      );
      const repaired = prev?.round === f.round && state.round === f.round + 1 ? await this.tryReplay(prev, f) : null;
      // θ of that round is gone, or was itself off the chain's path: rebuild from the checkpoint (or θ_0).
      if (!repaired) return this.advanceTo(this.deps.state.genesis(), Math.max(state.round, last.round + 1));
      state = repaired;
    }
    return state.round <= last.round ? this.advanceTo(state, last.round + 1) : state;
  }

  /** Asks connected peers for the announcements of rounds around `round` (after a restart). */
  async syncAround(round: number): Promise<void> {
    await this.deps.inbox.sync(round - 1, round + 1);
  }

  /** Forgets what rounds before `round` − 8 needed in memory and prunes old blobs. */
  async forget(round: number): Promise<void> {
    this.deps.inbox.prune(round - 8);
    await this.deps.store.pruneBlobs(round).catch(() => 0);
  }

  private timed(r: { gathered: Gathered[]; dropped: Dropped[] }, t0: number): GatherResult {
    const seconds = (performance.now() - t0) / 1000;
    this.deps.metrics?.phaseSeconds.observe({ phase: "gather" }, seconds);
    return { ...r, seconds };
  }

  private collect(round: number, wanted: ReadonlySet<string>, base: Hash32 | null) {
    return this.deps.inbox.collect(round, wanted, base, this.opts.fetchTimeoutMs);
  }

  /**
   * Our own announcement of `round`, rebuilt from the round record after a restart: peers never echo a
   * node's own gossip back to it (sync skips it too), yet its update belongs in its own outer step.
   */
  private async restoreOwnAnnouncement(round: number): Promise<void> {
    if (this.deps.inbox.received(round).some((r) => r.address === this.deps.address)) return;
    const rec = await this.deps.store.rounds.get(round);
    if (!rec?.ownPayloadHash) return;
    const payload = await this.deps.store.blobs.get(rec.ownPayloadHash);
    if (payload === undefined) return;
    this.deps.inbox.addOwn(
      buildAnnouncement({
        round,
        baseModelHash: parseHash32(rec.baseModelHash, `round record ${round} baseModelHash`),
        payloadHash: parseHash32(rec.ownPayloadHash, `round record ${round} ownPayloadHash`),
        payload: { byteLength: payload.byteLength },
      }),
    );
  }

  /** `replayFinalized`, or null when its result misses the chain's hash (then `prev` was off the path too). */
  private async tryReplay(prev: ModelState, f: FinalizedRound): Promise<ModelState | null> {
    try {
      return await this.replayFinalized(prev, f);
    } catch (err) {
      if (!(err instanceof RoleError && err.code === "REPLAY_MISMATCH")) throw err;
      this.deps.logger.warn(
        { round: f.round, err: err.message },
        "our θ of that round is off the chain's path; rebuilding",
      );
      return null;
    }
  }

  /**
   * Recomputes θ_{f.round+1} from θ_{f.round} with exactly the chain's included set (the stake majority's
   * choice), fetching any update this node missed; the result must hash to the finalized model hash.
   */
  private async replayFinalized(state: ModelState, f: FinalizedRound): Promise<ModelState> {
    await this.deps.peers.refresh(true);
    const peers = this.deps.peers.peerList;
    const wanted = new Set(f.included.map((i) => peers[i]).filter((a): a is string => a !== undefined));
    await this.restoreOwnAnnouncement(f.round);
    const have = new Set(this.deps.inbox.received(f.round).map((r) => r.address));
    if ([...wanted].some((a) => !have.has(a))) await this.deps.inbox.sync(f.round);
    const { gathered, dropped } = await this.collect(f.round, wanted, state.hash);
    if (dropped.some((d) => d.reason === "wrong_base")) {
      throw new RoleError(
        "REPLAY_MISMATCH",
        `round ${f.round}: included updates were built on another θ than our ${state.hash.slice(0, 16)}…`,
      );
    }
    if (gathered.length !== wanted.size) {
      throw new RoleError(
        "CATCH_UP_FAILED",
        `round ${f.round}: got ${gathered.length} of the ${wanted.size} included updates`,
      );
    }
    const { next } = this.step(state, gathered);
    if (next.hash !== f.modelHash) {
      throw new RoleError(
        "REPLAY_MISMATCH",
        `round ${f.round}: replay gives ${next.hash.slice(0, 16)}…, chain has ${f.modelHash.slice(0, 16)}…`,
      );
    }
    await this.deps.state.commit(next, roundRecord(state, next, gathered, { status: "finalized" }));
    return next;
  }

  /** Loads the newest on-chain checkpoint (uri "blob:<sha256>") from our store or from peers. */
  private async loadChainCheckpoint(state: ModelState): Promise<ModelState | null> {
    const cp = this.deps.chain.checkpoint;
    if (!cp || cp.round + 1 <= state.round) return null;
    const m = /^blob:([0-9a-f]{64})$/.exec(cp.uri);
    if (!m) throw new RoleError("CHECKPOINT_UNAVAILABLE", `checkpoint uri ${cp.uri} is not a blob hash`);
    const bytes =
      (await this.deps.store.blobs.get(m[1])) ??
      (await this.deps.p2p.fetchBlob(m[1], { timeoutMs: this.opts.fetchTimeoutMs * 3 }));
    const checkpoint = loadCheckpoint(bytes, cp.modelHash);
    await this.deps.store.blobs.put(bytes, { kind: "checkpoint", round: cp.round + 1 }, m[1]);
    this.deps.logger.info({ round: cp.round + 1, hash: cp.modelHash.slice(0, 16) }, "loaded on-chain checkpoint");
    return { round: cp.round + 1, params: checkpoint.params, hash: cp.modelHash };
  }

  /** Advances `state` to round `target`: checkpoint, then finalized replays or (unfinalized) our own gather. */
  private async advanceTo(state: ModelState, target: number): Promise<ModelState> {
    const fromCheckpoint = await this.loadChainCheckpoint(state);
    if (fromCheckpoint && fromCheckpoint.round <= target) state = fromCheckpoint;
    if (state.round < target) await this.deps.inbox.sync(state.round, target - 1);
    while (state.round < target) {
      const f = this.deps.chain.finalized.get(state.round);
      if (f) {
        state = await this.replayFinalized(state, f);
      } else {
        // A round nobody finalized (yet): apply the gather rule to what peers have.
        const { gathered } = await this.gather(state);
        const { next } = this.step(state, gathered);
        await this.deps.state.commit(next, roundRecord(state, next, gathered));
        state = next;
      }
      this.deps.logger.info({ round: state.round - 1, hash: state.hash }, "caught up one round");
    }
    return state;
  }
}

/** The round record of `state.round` once θ_{round+1} is known (gathered in aggregation order). */
export function roundRecord(
  state: ModelState,
  next: ModelState,
  gathered: readonly Gathered[],
  extra: Partial<RoundRecord> = {},
): RoundRecord {
  return {
    round: state.round,
    baseModelHash: state.hash,
    newModelHash: next.hash,
    gathered: gathered.map((g) => ({ address: g.address, peerId: g.peerId.toString(), payloadHash: g.payloadHash })),
    ownPayloadHash: state.published?.payloadHash,
    timings: {},
    losses: {},
    status: "aggregated",
    ...extra,
  };
}
