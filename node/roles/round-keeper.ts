import { ZeroAddress } from "ethers";
import type { Logger } from "pino";
import { type Hash32, bytesToHex, parseHash32, sha256 } from "../hash/index.ts";
import type { Metrics } from "../metrics/index.ts";
import type { P2PNode } from "../p2p/index.ts";
import {
  type SparseLocoOptions,
  type SparseUpdate,
  type TensorSpec,
  type WarmupSettings,
  decodeUpdate,
  largestCompression,
  maxUpdateBytes,
  nextModel,
  roundCompression,
} from "../sparseloco/index.ts";
import type { BlobRepository, RoundRecord, RoundRepository } from "../store/index.ts";
import { buildAnnouncement } from "./announcement.ts";
import type { FinalizedRound } from "./chain-view.ts";
import { CheckpointLoader } from "./checkpoint-loader.ts";
import { RoleError } from "./errors.ts";
import type { Dropped, Gathered, Received, UpdateInbox } from "./inbox.ts";
import type { ModelState, StateStore } from "./state-store.ts";
import type { ChainReader, PeerRegistry } from "./views.ts";

export interface RoundKeeperOptions {
  /** How long to keep fetching announced payloads. */
  fetchTimeoutMs: number;
  /** The run's outer step: chunk layout and α. */
  outer: Pick<SparseLocoOptions, "topk" | "targetChunk"> & WarmupSettings & { alpha: number };
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
  private readonly checkpoints: CheckpointLoader;
  /** The largest valid update payload: a replay fetches nothing larger. */
  private readonly maxPayloadBytes: number;

  constructor(
    private readonly opts: RoundKeeperOptions,
    private readonly deps: RoundKeeperDependencies,
  ) {
    this.checkpoints = new CheckpointLoader(
      { fetchTimeoutMs: opts.fetchTimeoutMs },
      { chain: deps.chain, blobs: deps.store.blobs, p2p: deps.p2p, logger: deps.logger },
    );
    this.maxPayloadBytes = maxUpdateBytes(deps.specs, largestCompression(opts.outer));
  }

  /** Addresses whose updates round `round` aggregates: its gather set, or every registered peer. */
  async gatherAddresses(round: number): Promise<Set<string>> {
    await this.deps.peers.refresh();
    const peers = this.deps.peers.peerList;
    const set = this.deps.chain.gatherSetFor(round);
    return new Set(set === null ? peers : set.map((i) => peers[i]).filter((a): a is string => a !== undefined));
  }

  /**
   * Fetches and decodes the round's gather set built on H(θ_round), less proven equivocators (a peer's
   * step 5). Fetches stop after fetchTimeoutMs or at `untilMs` (Date.now() ms, the round's deadline on
   * the caller's clock), whichever comes first.
   */
  async gather(state: ModelState, untilMs = Infinity): Promise<GatherResult> {
    const t0 = performance.now();
    const wanted = await this.gatherAddresses(state.round);
    await this.deps.inbox.sync(state.round);
    for (const a of this.equivocators(state.round)) wanted.delete(a);
    await this.restoreOwnAnnouncement(state.round);
    const { gathered, dropped } = await this.collect(state.round, wanted, state.hash, untilMs);
    return this.timed({ gathered, dropped }, t0);
  }

  /** Fetches and decodes every update announced for `round`, whatever its base (a validator scores all), until `untilMs`. */
  async gatherAll(round: number, untilMs = Infinity): Promise<GatherResult> {
    const t0 = performance.now();
    await this.deps.peers.refresh(true);
    await this.deps.inbox.sync(round);
    const { gathered, dropped } = await this.collect(round, new Set(this.deps.peers.peerList), null, untilMs);
    return this.timed({ gathered, dropped }, t0);
  }

  /** Authors proven to have signed two different announcements for `round`. */
  equivocators(round: number): ReadonlySet<string> {
    return this.deps.inbox.equivocators(round);
  }

  /** The announcements of `round` received so far, in arrival order. */
  received(round: number): Received[] {
    return this.deps.inbox.received(round);
  }

  /**
   * The updates of `all` the outer step of `state.round` takes: the gather set's, built on H(θ_round),
   * less proven equivocators.
   */
  async forStep(state: ModelState, all: readonly Gathered[]): Promise<Gathered[]> {
    const wanted = await this.gatherAddresses(state.round);
    const equivocators = this.equivocators(state.round);
    return all.filter(
      (g) => wanted.has(g.address) && !equivocators.has(g.address) && bytesToHex(g.ann.baseModelHash) === state.hash,
    );
  }

  /** θ_{round+1} from θ_round and the gathered updates (not committed). */
  step(state: ModelState, gathered: readonly Gathered[]): { next: ModelState; seconds: number } {
    const t0 = performance.now();
    const byPeer = new Map(gathered.map((g) => [g.address, g.update]));
    const { params, hash } = nextModel(
      state.params,
      byPeer,
      this.deps.specs,
      roundCompression(this.opts.outer, state.round),
    );
    const seconds = (performance.now() - t0) / 1000;
    this.deps.metrics?.phaseSeconds.observe({ phase: "aggregate" }, seconds);
    this.deps.metrics?.updatesGathered.set(gathered.length);
    return { next: { round: state.round + 1, params, hash }, seconds };
  }

  /**
   * Brings `state` level with the chain (DESIGN "Catch-up"). Two cases, checked in this order:
   * - forked: our outer step of the newest settled round we applied left the chain's path (another hash
   *   than the finalized one, or θ moved in a round finalized as skipped) → recompute that round from
   *   `prev` when we still hold θ of it, else rebuild from a checkpoint (or θ_0);
   * - behind: settled rounds lie at or beyond the state's round → load the newest checkpoint that loads
   *   if it is ahead, then replay each settled round from the chain's payload list, verifying every hash.
   */
  async catchUp(state: ModelState, prev: ModelState | null): Promise<ModelState> {
    const level = await this.level(state, prev);
    this.deps.metrics?.round.set(level.round);
    return level;
  }

  private async level(state: ModelState, prev: ModelState | null): Promise<ModelState> {
    await this.deps.chain.sync();
    const last = this.lastSettled();
    if (last === undefined) return state;
    // The newest settled round whose outer step we applied ourselves: did it stay on the chain's path?
    const applied = Math.min(state.round - 1, last);
    if (applied >= 0 && (await this.forked(state, prev, applied))) {
      const repaired = prev?.round === applied && state.round === applied + 1 ? await this.tryReplay(prev) : null;
      // θ of that round is gone, or was itself off the chain's path: rebuild from a checkpoint (or θ_0).
      if (!repaired) return this.advanceTo(this.deps.state.genesis(), Math.max(state.round, last + 1));
      this.deps.logger.info({ round: applied, hash: repaired.hash }, "replayed the chain's round");
      state = repaired;
    }
    return state.round <= last ? this.advanceTo(state, last + 1) : state;
  }

  /** The newest round finalized or finalized as skipped. */
  private lastSettled(): number | undefined {
    const f = this.deps.chain.lastFinalized()?.round ?? -1;
    const last = Math.max(f, ...this.deps.chain.skipped);
    return last < 0 ? undefined : last;
  }

  /** Whether our θ_{r+1} differs from the chain's: its finalized hash, or θ_r itself when r was skipped. */
  private async forked(state: ModelState, prev: ModelState | null, r: number): Promise<boolean> {
    const held = r === state.round - 1;
    const rec = held && prev?.round === r ? null : await this.deps.store.rounds.get(r);
    const mine = held ? state.hash : rec?.newModelHash;
    const f = this.deps.chain.finalized.get(r);
    const chain = f ? f.modelHash : held && prev?.round === r ? prev.hash : rec?.baseModelHash;
    if (mine === undefined || chain === undefined || mine === chain) return false;
    this.deps.logger.warn(
      { round: r, ours: mine.slice(0, 16), chain: chain.slice(0, 16), skipped: !f },
      "model hash differs from the chain's; recomputing",
    );
    return true;
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

  private collect(round: number, wanted: ReadonlySet<string>, base: Hash32 | null, untilMs: number) {
    return this.deps.inbox.collect(round, wanted, base, Math.min(Date.now() + this.opts.fetchTimeoutMs, untilMs));
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

  /**
   * Whether round `state.round`'s gather-rule result `next` is the base the chain built on, decided by the
   * next round when it is finalized: its canonical list applied to `next` must give its hash; when it
   * does not, but does from θ unchanged, the validators applied nothing there (undefined: nothing to
   * decide by). A round without submissions is never settled on chain (TrainingRunRoundHasNoSubmissions),
   * and gathers of it need not agree: a validator restarted after its window gathered nothing, while
   * peers applied the updates they had published before the stop.
   */
  private async nextExtends(state: ModelState, next: ModelState): Promise<boolean | undefined> {
    const f = this.deps.chain.finalized.get(next.round);
    if (!f || f.payloads === null) return undefined;
    const updates = new Map((await this.fetchPayloads(f)).map((u) => [u.address, u.update]));
    const apply = (params: ModelState["params"]) =>
      nextModel(params, updates, this.deps.specs, roundCompression(this.opts.outer, f.round)).hash === f.modelHash;
    if (apply(next.params) || !apply(state.params)) return true;
    this.deps.logger.warn(
      { round: state.round, gathered: next.hash.slice(0, 16), chain: state.hash.slice(0, 16) },
      "round without submissions: the chain's next round builds on θ unchanged; not applying our gather",
    );
    return false;
  }

  /** `replay`, or null when its result misses the chain's hash (then `prev` was off the path too). */
  private async tryReplay(prev: ModelState): Promise<ModelState | null> {
    try {
      return await this.replay(prev);
    } catch (err) {
      if (!(err instanceof RoleError && err.code === "REPLAY_MISMATCH")) throw err;
      this.deps.logger.warn(
        { round: prev.round, err: err.message },
        "our θ of that round is off the chain's path; rebuilding",
      );
      return null;
    }
  }

  /**
   * θ_{round+1} of a settled round from θ_round and the chain alone, committed: a round finalized as
   * skipped leaves θ unchanged (docs/contract.md "Quorum"); a finalized round applies exactly its
   * canonical payload list — each entry's payload fetched by its sha256 (own store, then the network),
   * verified, decoded — and the result must hash to the finalized model hash. What gossip this node
   * saw plays no part, so every node reaches the chain's θ.
   */
  private async replay(state: ModelState): Promise<ModelState> {
    const f = this.deps.chain.finalized.get(state.round);
    if (!f) {
      const next = { round: state.round + 1, params: state.params, hash: state.hash };
      await this.deps.state.commit(next, roundRecord(state, next, [], { status: "skipped" }));
      return next;
    }
    const updates = await this.fetchPayloads(f);
    const { params, hash } = nextModel(
      state.params,
      new Map(updates.map((u) => [u.address, u.update])),
      this.deps.specs,
      roundCompression(this.opts.outer, state.round),
    );
    if (hash !== f.modelHash) {
      throw new RoleError(
        "REPLAY_MISMATCH",
        `round ${f.round}: replay gives ${hash.slice(0, 16)}…, chain has ${f.modelHash.slice(0, 16)}…`,
      );
    }
    const next = { round: state.round + 1, params, hash };
    const gathered = updates.map(({ address, peerId, payloadHash }) => ({ address, peerId, payloadHash }));
    await this.deps.state.commit(next, roundRecord(state, next, [], { status: "finalized", gathered }));
    this.deps.metrics?.updatesGathered.set(updates.length);
    return next;
  }

  /**
   * The payloads of `f`'s canonical list, each fetched by its sha256 through the bounded blob fetch
   * (its announcer, when we saw one, asked first) and checked against that hash before decoding.
   * Each entry's address (the aggregation key, whose order the median-clipped mean sums in) is the slot's
   * holder when the round finalized, else the current registry's.
   */
  private async fetchPayloads(f: FinalizedRound): Promise<ReplayedUpdate[]> {
    if (f.payloads === null) {
      throw new RoleError("CATCH_UP_FAILED", `round ${f.round}: no submission with the payload root ${f.payloadRoot}`);
    }
    await this.deps.peers.refresh(true);
    const peers = this.deps.peers.peerList;
    const announcers = new Map(this.deps.inbox.received(f.round).map((r) => [r.address, r.peerId]));
    const missing: string[] = [];
    const out = await Promise.all(
      f.payloads.map(async (e, k): Promise<ReplayedUpdate | null> => {
        const address = f.payloadPeers?.[k] ?? peers[e.index];
        const payloadHash = parseHash32(e.hash.replace(/^0x/, "").toLowerCase(), `round ${f.round} payload hash`);
        if (address === undefined || address === ZeroAddress) {
          missing.push(`peer index ${e.index} (no registered peer)`);
          return null;
        }
        const peerId = announcers.get(address);
        let bytes = await this.deps.store.blobs.get(payloadHash);
        if (bytes === undefined || sha256(bytes) !== payloadHash) {
          bytes = await this.deps.p2p
            .fetchBlob(payloadHash, {
              providers: peerId ? [peerId] : [],
              maxBytes: this.maxPayloadBytes,
              timeoutMs: this.opts.fetchTimeoutMs,
            })
            .catch(() => undefined);
          if (bytes === undefined || sha256(bytes) !== payloadHash) {
            missing.push(`${address.slice(0, 10)}…'s ${payloadHash.slice(0, 16)}…`);
            return null;
          }
          await this.deps.store.blobs.put(bytes, { kind: "update", round: f.round, peer: address }, payloadHash);
        }
        try {
          return {
            address,
            peerId: peerId?.toString(),
            payloadHash,
            update: decodeUpdate(bytes, this.deps.specs, roundCompression(this.opts.outer, f.round)),
          };
        } catch (err) {
          // The validators' majority aggregated it, so it decoded for them: our decode settings differ.
          throw new RoleError(
            "CATCH_UP_FAILED",
            `round ${f.round}: payload ${payloadHash.slice(0, 16)}… does not decode: ${(err as Error).message}`,
          );
        }
      }),
    );
    if (missing.length > 0) {
      throw new RoleError(
        "CATCH_UP_FAILED",
        `round ${f.round}: got ${f.payloads.length - missing.length} of the ${f.payloads.length} included updates (missing ${missing.join(", ")})`,
      );
    }
    return out.filter((u): u is ReplayedUpdate => u !== null);
  }

  /** Advances `state` to round `target`: a checkpoint, then settled rounds replayed, (unsettled) our own gather. */
  private async advanceTo(state: ModelState, target: number): Promise<ModelState> {
    const fromCheckpoint = await this.checkpoints.newest(state.round, target);
    if (fromCheckpoint) state = fromCheckpoint;
    if (state.round < target) await this.deps.inbox.sync(state.round, target - 1);
    while (state.round < target) {
      if (this.deps.chain.isSettled(state.round)) {
        state = await this.replay(state);
      } else {
        // A round nobody submitted scores for: apply the gather rule to what peers have.
        const { gathered } = await this.gather(state);
        let { next } = this.step(state, gathered);
        let used = gathered;
        if (gathered.length > 0 && (await this.nextExtends(state, next)) === false) {
          next = { round: state.round + 1, params: state.params, hash: state.hash };
          used = [];
        }
        await this.deps.state.commit(next, roundRecord(state, next, used));
        state = next;
      }
      this.deps.logger.info({ round: state.round - 1, hash: state.hash }, "caught up one round");
    }
    return state;
  }
}

/** An update of a canonical payload list, fetched by hash and decoded. */
interface ReplayedUpdate {
  address: string;
  peerId: string | undefined;
  payloadHash: Hash32;
  update: SparseUpdate;
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
    timings: {},
    losses: {},
    status: "aggregated",
    ...extra,
  };
}
