import { z } from "zod";

/**
 * SparseLoCo compression settings. Defaults are the Covenant-72B values (covenant-facts §1:
 * k = 64, beta = 0.95, target_chunk = 64, 2-bit values), which every peer of a run must share:
 * the chunk grid and k are checked on decode.
 */
export interface SparseLocoOptions {
  /** Values kept per chunk (clamped to the chunk size, so 1-D chunks of <= 64 values go dense). */
  topk: number;
  /** Error-feedback decay: e <- beta*e + delta. */
  beta: number;
  /** Chunk side per dimension: the largest divisor of the dimension that is <= targetChunk. */
  targetChunk: number;
}

export const defaultSparseLocoOptions: Readonly<SparseLocoOptions> = Object.freeze({
  topk: 64,
  beta: 0.95,
  targetChunk: 64,
});

/** Decode-side settings: the run's compression settings plus a size cap. */
export interface DecodeOptions {
  topk: number;
  targetChunk: number;
  /**
   * Reject payloads larger than this before parsing. Default: the largest valid encoding for the
   * given specs (`maxUpdateBytes`), so a payload that cannot be valid costs no parsing work.
   */
  maxBytes?: number;
}

/** Outer-step algorithm; "diloco" is the dense baseline kept for comparisons (DiLoCo, Douillard et al.). */
export type OuterAlgorithm = "sparseloco" | "diloco";

export interface OuterOptions {
  algorithm: OuterAlgorithm;
  /** SparseLoCo outer learning rate alpha (Covenant: 1.0, plain SGD, no momentum). */
  alpha: number;
  /** DiLoCo outer learning rate (Nesterov SGD). */
  dilocoLr: number;
  /** DiLoCo Nesterov momentum. */
  dilocoMomentum: number;
}

export const defaultOuterOptions: Readonly<OuterOptions> = Object.freeze({
  algorithm: "sparseloco",
  alpha: 1.0,
  dilocoLr: 0.7,
  dilocoMomentum: 0.9,
});

// targetChunk <= 64 keeps every chunk at <= 4096 values, so chunk-local indices fit in 12 bits.
export const sparseLocoOptionsSchema = z.object({
  topk: z.number().int().min(1).max(4096),
  beta: z.number().min(0).max(1),
  targetChunk: z.number().int().min(1).max(64),
});

export const outerOptionsSchema = z.object({
  algorithm: z.enum(["sparseloco", "diloco"]),
  alpha: z.number().positive().finite(),
  dilocoLr: z.number().positive().finite(),
  dilocoMomentum: z.number().min(0).max(1),
});

/** Merge with the defaults and validate once (callers in hot loops should resolve once and reuse). */
export function resolveSparseLocoOptions(opts?: Partial<SparseLocoOptions>): SparseLocoOptions {
  if (opts === undefined) return defaultSparseLocoOptions;
  return sparseLocoOptionsSchema.parse({ ...defaultSparseLocoOptions, ...opts });
}

export function resolveOuterOptions(opts?: Partial<OuterOptions>): OuterOptions {
  return outerOptionsSchema.parse({ ...defaultOuterOptions, ...opts });
}
