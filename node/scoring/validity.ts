import { lowerMedian } from "../sparseloco/median.ts";

/** Validity of a decoded update: it decoded, every value is finite, and its L2 norm is within bounds. */

export type InvalidReason =
  | "decode_failed"
  | "empty"
  | "non_finite"
  | "unsorted_indices"
  | "norm_too_large"
  | "norm_too_small";

export interface ValidityInput {
  /** Set when the wire decoder rejected the payload (size limits, bad codes, wrong shapes…). */
  decodeError?: unknown;
  /** The decoded values: dense tensors or just the sparse kept values (same norm). */
  tensors?: Iterable<Float32Array>;
  /** Or the update's L2 norm, computed from its sparse form (node/sparseloco `updateNorm`): no values needed. */
  norm?: number;
  /** Chosen indices per tensor, when copy detection will use them: they must be strictly increasing. */
  indices?: Iterable<Uint32Array | Int32Array>;
}

export interface NormBounds {
  /** Largest accepted L2 norm (inclusive). */
  maxNorm: number;
  /** Smallest accepted L2 norm (inclusive); 0 accepts an all-zero update. */
  minNorm?: number;
}

export interface ValidityResult {
  valid: boolean;
  reason?: InvalidReason;
  /** L2 norm over all values (NaN when undecodable or non-finite). */
  norm: number;
}

/** L2 norm accumulated in float64; NaN if any value is not finite. */
export function l2Norm(tensors: Iterable<Float32Array>): number {
  let s = 0;
  for (const t of tensors) {
    for (let i = 0; i < t.length; i++) {
      const v = t[i];
      s += v * v;
    }
  }
  return Number.isFinite(s) ? Math.sqrt(s) : Number.NaN;
}

export function isStrictlyIncreasing(a: Uint32Array | Int32Array): boolean {
  for (let i = 1; i < a.length; i++) if (a[i] <= a[i - 1]) return false;
  return true;
}

/**
 * `factor` × the lower median of the round's finite norms: a bound relative to the other gathered
 * updates, with the same median as the aggregator's clip-to-median (DESIGN.md step 5), but used to
 * reject outliers outright.
 */
export function medianNormBound(norms: readonly number[], factor = 10): NormBounds {
  const finite = norms.filter(Number.isFinite);
  if (finite.length === 0) return { maxNorm: Number.POSITIVE_INFINITY };
  return { maxNorm: factor * lowerMedian(finite) };
}

export function checkValidity(
  input: ValidityInput,
  bounds: NormBounds = { maxNorm: Number.POSITIVE_INFINITY },
): ValidityResult {
  if (input.decodeError !== undefined || (input.tensors === undefined && input.norm === undefined))
    return { valid: false, reason: "decode_failed", norm: Number.NaN };
  let norm: number;
  if (input.norm !== undefined) {
    norm = Number.isFinite(input.norm) ? input.norm : Number.NaN;
  } else {
    const tensors = [...(input.tensors ?? [])];
    if (tensors.length === 0) return { valid: false, reason: "empty", norm: Number.NaN };
    norm = l2Norm(tensors);
  }
  if (Number.isNaN(norm)) return { valid: false, reason: "non_finite", norm };
  for (const idx of input.indices ?? []) {
    if (!isStrictlyIncreasing(idx)) return { valid: false, reason: "unsorted_indices", norm };
  }
  if (norm > bounds.maxNorm) return { valid: false, reason: "norm_too_large", norm };
  if (norm < (bounds.minNorm ?? 0)) return { valid: false, reason: "norm_too_small", norm };
  return { valid: true, norm };
}
