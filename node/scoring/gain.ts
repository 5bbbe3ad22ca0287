import { lowerMedian } from "../sparseloco/index.ts";
import { ScoringError } from "./errors.ts";
import type { ScoringOptions } from "./options.ts";

/**
 * Relative loss improvement (L0 - L1) / L0 of θ - η·decode(update) over θ, as Templar's
 * `gradient_score` (covenant-facts §3). L0 is the validator's own evaluation of θ_r and must be a
 * positive finite cross-entropy; a non-finite L1 (the update blew the model up) is the worst possible
 * gain, -Infinity, which `combineScore` turns into a zero score.
 */
export function heldOutGain(lossBefore: number, lossAfter: number): number {
  if (!Number.isFinite(lossBefore) || lossBefore <= 0)
    throw new ScoringError("BAD_LOSS", `base loss must be positive and finite, got ${lossBefore}`);
  if (!Number.isFinite(lossAfter)) return Number.NEGATIVE_INFINITY;
  return (lossBefore - lossAfter) / lossBefore;
}

/**
 * The gain of an update on a peer's own samples, robust to a minority of them: the lower median of the
 * per-sample relative gains (before_i − after_i) / before_i. A mean lets a few samples the peer
 * memorised (a loss drop many times an honest one) carry the whole check, so a peer that trained on a
 * quarter of its assignment passed it (docs/security.md "Gaming", the proof overfitter); the median moves
 * only when most of the drawn samples improved.
 */
export function ownSampleGain(before: readonly number[], after: readonly number[]): number {
  if (before.length === 0 || before.length !== after.length)
    throw new ScoringError("BAD_LOSS", `own-sample losses: ${before.length} before, ${after.length} after`);
  return lowerMedian(before.map((b, i) => heldOutGain(b, after[i])));
}

/**
 * Proof of training on the assigned data: an update built from the peer's own samples lowers the loss
 * on those samples more than on held-out samples chosen by a seed the peer could not know.
 * "binary" is Templar's +1 / -1; "continuous" is the signed relative margin in [-1, 1]
 * (0 when both gains are equal, ±1 when one is zero or of the opposite sign).
 */
export function proofOfTraining(
  ownGain: number,
  heldOut: number,
  mode: ScoringOptions["proofOfTraining"] = "binary",
): number {
  if (Number.isNaN(ownGain) || Number.isNaN(heldOut)) return -1;
  if (mode === "binary") return ownGain > heldOut ? 1 : -1;
  const diff = ownGain - heldOut;
  if (diff === 0) return 0;
  const denom = Math.max(Math.abs(ownGain), Math.abs(heldOut));
  if (!Number.isFinite(denom)) return Math.sign(diff);
  return Math.max(-1, Math.min(1, diff / denom));
}

export interface LossPair {
  before: number;
  after: number;
}

export interface OwnVsHeldOut {
  ownGain: number;
  heldOutGain: number;
  /** proofOfTraining(ownGain, heldOutGain, mode) */
  proof: number;
}

/** Both gains and the proof-of-training signal from the four evaluated losses. */
export function ownVsHeldOutGain(
  own: LossPair,
  heldOut: LossPair,
  mode: ScoringOptions["proofOfTraining"] = "binary",
): OwnVsHeldOut {
  const ownGain = heldOutGain(own.before, own.after);
  const held = heldOutGain(heldOut.before, heldOut.after);
  return { ownGain, heldOutGain: held, proof: proofOfTraining(ownGain, held, mode) };
}

/** Binary moving average of the proof signal across rounds: bma ← decay·bma + (1 - decay)·proof. */
export function updateBma(bma: number, proof: number, decay = 0.95): number {
  return decay * bma + (1 - decay) * proof;
}
