import type { GPTConfig } from "../model/options.ts";
import type { ParamMap, TensorSpec } from "../sparseloco/types.ts";

/** One batch of token windows: row b is inputs[b*T..] and the next-token targets (shifted by one). */
export interface TokenBatch {
  readonly batch: number;
  readonly seqLen: number;
  /** batch*seqLen token ids. */
  readonly inputs: Int32Array;
  readonly targets: Int32Array;
}

export interface TrainResult {
  /** theta_end as fresh arrays (the input map is never written). */
  readonly params: ParamMap;
  /** Inner steps actually run (<= H: `shouldStop` may end the call early). */
  readonly steps: number;
  /** Training loss of each inner step, before its update. */
  readonly losses: number[];
  /** Pre-clip global gradient norm of each inner step. */
  readonly gradNorms: number[];
  readonly tokens: number;
  readonly seconds: number;
}

/**
 * Inner-optimizer state and the number of updates it has seen (AdamW's bias correction). Engines must
 * return and accept exactly this, so a peer can persist it and resume in another process bit-for-bit.
 */
export interface OptimizerState {
  readonly step: number;
  /** One buffer per parameter: AdamW's first moment, or Muon's momentum buffer for the matrices Muon updates. */
  readonly m: ParamMap;
  /** AdamW's second moments, only for the tensors AdamW updates (all of them under "adamw"). */
  readonly v: ParamMap;
}

/** The state's name from before Muon (every tensor on AdamW); the same type. */
export type AdamWState = OptimizerState;

export interface TrainCallOptions {
  /** Global inner step of the first of these H steps; the lr schedule is evaluated at stepOffset+i. */
  readonly stepOffset?: number;
  /**
   * After each step. On the worker engine a returned promise delays the next step until it settles (a
   * test's slow-step knob); the engines on the main thread do not wait for it.
   */
  readonly onStep?: (i: number, loss: number) => void | Promise<void>;
  /**
   * Asked before every step after the first with the number of steps done so far; true ends the call
   * there (a time budget). The first step always runs, so a call never returns an empty result.
   */
  readonly shouldStop?: (stepsDone: number) => boolean;
}

/**
 * What the roles call to train: every engine (tfjs on CPU, our WGSL engine on WebGPU) implements it for
 * the GPT of node/model with the same parameter names, shapes and init, so SparseLoCo, checkpoints and
 * model hashes do not depend on which engine trained.
 */
export interface TrainingEngine {
  /** Which engine this is, for logs and doctor ("tfjs", "webgpu"). */
  readonly kind: string;
  readonly specs: TensorSpec[];
  readonly config: GPTConfig;
  /**
   * Up to H inner optimizer steps from `params` (never written) on batches[i % batches.length];
   * returns θ_end as fresh arrays.
   */
  train(params: ParamMap, batches: readonly TokenBatch[], H: number, opts?: TrainCallOptions): Promise<TrainResult>;
  /** Mean next-token loss (nats/token) of `params` over the batches, token-weighted. */
  evaluate(params: ParamMap, batches: readonly TokenBatch[]): Promise<number>;
  /**
   * Each batch's mean next-token loss, in order (one model upload for all of them): with one sample per
   * batch, per-sample losses, from which a validator takes a robust statistic (node/roles/scorer.ts).
   */
  evaluateEach(params: ParamMap, batches: readonly TokenBatch[]): Promise<number[]>;
  /** A copy of the optimizer state (async: a GPU engine reads its moments back from the device). */
  getOptimizerState(): Promise<OptimizerState>;
  /** Throws TrainError BAD_STATE (and changes nothing) unless `state` fits this engine's optimizer and model. */
  setOptimizerState(state: OptimizerState): void;
  resetOptimizerState(): void;
  /** Releases every resource (tensors, GPU buffers); later calls throw TrainError DISPOSED. */
  dispose(): void;
}

/** The token-weighted mean of per-batch mean losses: what `evaluate` returns for those batches. */
export function meanLoss(batches: readonly TokenBatch[], losses: readonly number[]): number {
  let sum = 0;
  let n = 0;
  batches.forEach((b, i) => {
    sum += losses[i] * b.batch * b.seqLen;
    n += b.batch * b.seqLen;
  });
  return sum / n;
}
