import { loadCheckpoint } from "../model/index.ts";
import type { RoundRecord } from "../store/index.ts";
import type { FinalizedRound } from "./chain-view.ts";
import type { RunContext } from "./context.ts";
import { RoleError } from "./errors.ts";
import type { Dropped, Gathered, UpdateInbox } from "./inbox.ts";
import { type ModelState, commitState, genesisState, nextModel } from "./model-state.ts";

/** The shared round mechanics of peers and validators: gather, outer step, verify, catch up. */

/** Addresses whose updates round `round` aggregates: its gather set, or every registered peer. */
export async function gatherAddresses(ctx: RunContext, round: number): Promise<Set<string>> {
  await ctx.directory.refresh();
  const peers = ctx.directory.peerList;
  const set = ctx.chain.gatherSetFor(round);
  return new Set(set === null ? peers : set.map((i) => peers[i]).filter((a): a is string => a !== undefined));
}

/** Gathers round `state.round` (gather set, built on θ_round) and returns θ_{round+1} (not committed). */
export async function gatherAndStep(
  ctx: RunContext,
  inbox: UpdateInbox,
  state: ModelState,
): Promise<{
  next: ModelState;
  gathered: Gathered[];
  dropped: Dropped[];
  gatherSeconds: number;
  aggregateSeconds: number;
}> {
  const t0 = performance.now();
  const wanted = await gatherAddresses(ctx, state.round);
  await inbox.syncRound(state.round);
  await restoreOwnAnnouncement(ctx, inbox, state.round);
  const { gathered, dropped } = await inbox.collect(state.round, wanted, state.hash, ctx.options.fetchTimeoutMs);
  const t1 = performance.now();
  const { params, hash } = nextModel(state.params, gathered, ctx);
  const t2 = performance.now();
  return {
    next: { round: state.round + 1, params, hash, errorFeedback: state.errorFeedback },
    gathered,
    dropped,
    gatherSeconds: (t1 - t0) / 1000,
    aggregateSeconds: (t2 - t1) / 1000,
  };
}

/**
 * Our own announcement of `round`, rebuilt from the round record after a restart: peers never echo a
 * node's own gossip back to it (sync skips it too), yet its update belongs in its own outer step.
 */
async function restoreOwnAnnouncement(ctx: RunContext, inbox: UpdateInbox, round: number): Promise<void> {
  if (inbox.received(round).some((r) => r.address === ctx.address)) return;
  const rec = await ctx.store.rounds.get(round);
  if (!rec?.ownPayloadHash) return;
  const size = (await ctx.store.blobs.get(rec.ownPayloadHash))?.length;
  if (size === undefined) return;
  const hex = (h: string) => new Uint8Array(Buffer.from(h, "hex"));
  inbox.add(
    {
      runId: ctx.run.runId,
      round,
      baseModelHash: hex(rec.baseModelHash),
      payloadHash: hex(rec.ownPayloadHash),
      payloadBytes: size,
      dataDigest: new Uint8Array(32),
      multiaddrs: [],
    },
    { peerId: ctx.p2p.peerId, address: ctx.address },
  );
}

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

/**
 * Recomputes θ_{f.round+1} from θ_{f.round} with exactly the chain's included set (the stake majority's
 * choice), fetching any update this node missed; the result must hash to the finalized model hash.
 */
export async function replayFinalized(
  ctx: RunContext,
  inbox: UpdateInbox,
  state: ModelState,
  f: FinalizedRound,
): Promise<ModelState> {
  await ctx.directory.refresh(true);
  const peers = ctx.directory.peerList;
  const wanted = new Set(f.included.map((i) => peers[i]).filter((a): a is string => a !== undefined));
  await restoreOwnAnnouncement(ctx, inbox, f.round);
  if ([...wanted].some((a) => inbox.received(f.round).every((r) => r.address !== a))) await inbox.syncRound(f.round);
  const { gathered } = await inbox.collect(f.round, wanted, state.hash, ctx.options.fetchTimeoutMs);
  if (gathered.length !== wanted.size) {
    throw new RoleError(
      "CATCH_UP_FAILED",
      `round ${f.round}: got ${gathered.length} of the ${wanted.size} included updates`,
    );
  }
  const { params, hash } = nextModel(state.params, gathered, ctx);
  if (hash !== f.modelHash) {
    throw new RoleError(
      "CATCH_UP_FAILED",
      `round ${f.round}: replay gives ${hash.slice(0, 16)}…, chain has ${f.modelHash.slice(0, 16)}…`,
    );
  }
  const next: ModelState = { round: f.round + 1, params, hash, errorFeedback: state.errorFeedback };
  await commitState(ctx.store, next, roundRecord(state, next, gathered, { status: "finalized" }));
  return next;
}

/** Loads the newest on-chain checkpoint (uri "blob:<sha256>") from our store or from peers. */
export async function loadChainCheckpoint(ctx: RunContext, state: ModelState): Promise<ModelState | null> {
  const cp = ctx.chain.checkpoint;
  if (!cp || cp.round + 1 <= state.round) return null;
  const m = /^blob:([0-9a-f]{64})$/.exec(cp.uri);
  if (!m) throw new RoleError("CHECKPOINT_UNAVAILABLE", `checkpoint uri ${cp.uri} is not a blob hash`);
  const bytes =
    (await ctx.store.blobs.get(m[1])) ?? (await ctx.p2p.fetchBlob(m[1], { timeoutMs: ctx.options.fetchTimeoutMs * 3 }));
  const checkpoint = loadCheckpoint(bytes, cp.modelHash);
  await ctx.store.blobs.put(bytes, { kind: "checkpoint", round: cp.round + 1 }, m[1]);
  ctx.logger.info({ round: cp.round + 1, hash: cp.modelHash.slice(0, 16) }, "loaded on-chain checkpoint");
  // The EF buffer is the peer's own history; a joining peer starts from zeros, a lagging one keeps it.
  return {
    round: cp.round + 1,
    params: checkpoint.params,
    hash: checkpoint.modelHash,
    errorFeedback: state.errorFeedback,
  };
}

/**
 * Brings `state` level with the chain (DESIGN "Catch-up"). Two cases:
 * - behind: finalized rounds lie at or beyond the state's round → load the newest on-chain checkpoint if
 *   it is ahead, then replay each finalized round's included updates, verifying every hash;
 * - forked: our outer step of the newest finalized round produced another hash than the chain's (we
 *   missed or saw other updates) → recompute that round from `prev` when we still hold θ of it, else
 *   rebuild from the checkpoint (or θ_0) up to the round we were at.
 */
export async function catchUp(
  ctx: RunContext,
  inbox: UpdateInbox,
  state: ModelState,
  prev: ModelState | null,
): Promise<ModelState> {
  const last = ctx.chain.lastFinalized();
  if (!last) return state;
  if (state.round <= last.round) return advanceTo(ctx, inbox, state, last.round + 1);
  const mine = state.round === last.round + 1 ? state.hash : (await ctx.store.rounds.get(last.round))?.newModelHash;
  if (mine === undefined || mine === last.modelHash) return state;
  ctx.logger.warn(
    { round: last.round, ours: mine.slice(0, 16), chain: last.modelHash.slice(0, 16) },
    "model hash differs from the finalized one; recomputing",
  );
  if (prev && prev.round === last.round && state.round === last.round + 1)
    return replayFinalized(ctx, inbox, prev, last);
  // θ of that round is gone: rebuild from the checkpoint (or θ_0); our EF buffer is our own history.
  return advanceTo(ctx, inbox, { ...genesisState(ctx), errorFeedback: state.errorFeedback }, state.round);
}

/** Advances `state` to round `target`: checkpoint, then finalized replays or (unfinalized) our own gather. */
async function advanceTo(ctx: RunContext, inbox: UpdateInbox, state: ModelState, target: number): Promise<ModelState> {
  const fromCheckpoint = await loadChainCheckpoint(ctx, state);
  if (fromCheckpoint && fromCheckpoint.round <= target) state = fromCheckpoint;
  if (state.round < target) await ctx.p2p.syncAnnouncements(state.round, target - 1).catch(() => 0);
  while (state.round < target) {
    const f = ctx.chain.finalized.get(state.round);
    if (f) {
      state = await replayFinalized(ctx, inbox, state, f);
    } else {
      // A round nobody finalized (yet), or finalized as skipped (no quorum: ChainView.skipped): like a
      // round nobody scored, apply the gather rule to what peers have.
      const { next, gathered } = await gatherAndStep(ctx, inbox, state);
      await commitState(ctx.store, next, roundRecord(state, next, gathered));
      state = next;
    }
    ctx.logger.info({ round: state.round - 1, hash: state.hash }, "caught up one round");
  }
  return state;
}
