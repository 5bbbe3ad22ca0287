import { cloneParams, initParams } from "../model/index.ts";
import { aggregate, modelHash, outerStep } from "../sparseloco/index.ts";
import type { ParamMap, TensorSpec } from "../sparseloco/types.ts";
import type { RoundRecord, Store } from "../store/index.ts";
import type { RunContext } from "./context.ts";
import type { Gathered } from "./inbox.ts";

/**
 * The canonical model a node holds at the start of `round` (DESIGN step 1): θ_round as Float32Arrays,
 * H(θ_round), and (peers) the error-feedback buffer. `published` marks that this node already announced
 * its update for `round`, so a restart neither retrains nor announces a second, different update.
 */
export interface ModelState {
  round: number;
  params: ParamMap;
  hash: string;
  errorFeedback: ParamMap;
  published?: { payloadHash: string };
}

export function zerosLike(specs: readonly TensorSpec[], params: ParamMap): ParamMap {
  return new Map(specs.map((s) => [s.name, new Float32Array(params.get(s.name)!.length)]));
}

/** θ_0 from the run's seed: every node starts from the same bytes (the first link of the hash chain). */
export function genesisState(ctx: Pick<RunContext, "model" | "run" | "specs">): ModelState {
  const params = initParams(ctx.model, ctx.run.model.seed);
  return { round: 0, params, hash: modelHash(params, ctx.specs), errorFeedback: zerosLike(ctx.specs, params) };
}

/** The last committed state, or θ_0 when the store is empty. */
export async function loadState(ctx: Pick<RunContext, "model" | "run" | "specs" | "store">): Promise<ModelState> {
  const stored = await ctx.store.peerState.load();
  if (!stored) return genesisState(ctx);
  const record = await ctx.store.rounds.get(stored.round);
  const published =
    record?.status === "published" && record.ownPayloadHash ? { payloadHash: record.ownPayloadHash } : undefined;
  return {
    round: stored.round,
    params: stored.params,
    hash: stored.modelHash,
    errorFeedback: stored.errorFeedback,
    published,
  };
}

/** Writes state + round record in one LevelDB batch: a crash leaves either the old or the new state. */
export async function commitState(store: Store, state: ModelState, record?: RoundRecord): Promise<void> {
  await store.peerState.commitRound({
    round: state.round,
    modelHash: state.hash,
    params: state.params,
    errorFeedback: state.errorFeedback,
    record,
  });
}

/**
 * The outer step (DESIGN step 5): median-clipped per-coordinate mean of the gathered updates, keyed by
 * address so the peer order is fixed, then θ_{r+1} = θ_r − α·mean, all in JavaScript: bit-identical on
 * every node whatever backend trained. θ_r is not modified.
 */
export function nextModel(
  params: ParamMap,
  gathered: readonly Pick<Gathered, "address" | "update">[],
  ctx: Pick<RunContext, "specs" | "run">,
): { params: ParamMap; hash: string } {
  const next = cloneParams(params);
  if (gathered.length > 0) {
    const byPeer = new Map(gathered.map((g) => [g.address, g.update]));
    const mean = aggregate(byPeer, ctx.specs, {
      topk: ctx.run.sparseloco.topk,
      targetChunk: ctx.run.sparseloco.targetChunk,
    });
    outerStep(next, mean, ctx.run.sparseloco.alpha);
  }
  return { params: next, hash: modelHash(next, ctx.specs) };
}
