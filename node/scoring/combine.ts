import { defaultScoringOptions, type ScoringOptions } from "./options.ts";
import type { InvalidReason } from "./validity.ts";

export type ScoreReason =
  | "ok"
  | "missing"
  | "late"
  | "equivocation"
  | `invalid:${InvalidReason}`
  | "out_of_sync"
  | "copy"
  | "no_gain"
  | "not_evaluated";

/** Everything measured about one update in one round. */
export interface ScoreInputs {
  /** False when no update arrived in time (missed the submission deadline or unfetchable). */
  present: boolean;
  valid: boolean;
  invalidReason?: InvalidReason;
  /** syncScore(baseModelHash, H(θ_r)) */
  sync: 0 | 1;
  /** detectCopy verdict: the earlier announcer this one copied, or null. */
  copyOf: string | null;
  heldOutGain: number;
  ownGain: number;
  /** proofOfTraining(ownGain, heldOutGain) in [-1, 1]. */
  proof: number;
  /** First seen by the validator after the round's arrival deadline (node/roles/scorer.ts). */
  late?: boolean;
  /** The author signed two different announcements for the round (kept as evidence by node/p2p). */
  equivocated?: boolean;
  /**
   * False when the validator's time budget ran out before this update's loss was measured: the round
   * score is 0 and the reason "not_evaluated", which the ratings skip (it neither rewards nor punishes).
   */
  evaluated?: boolean;
}

/** The round score and the components behind it (what the validator stores and emits). */
export interface ScoreComponents {
  heldOutGain: number;
  ownGain: number;
  proof: number;
  sync: 0 | 1;
  copyOf: string | null;
  valid: boolean;
  /** Round score in [0, 1]. */
  final: number;
  reason: ScoreReason;
}

/** g / (g + gainHalf) for g > 0, else 0: monotone, 0.5 at gainHalf, saturating towards 1. */
export function gainFactor(heldOutGain: number, gainHalf = defaultScoringOptions.gainHalf): number {
  if (!(heldOutGain > 0)) return 0;
  if (heldOutGain === Number.POSITIVE_INFINITY) return 1;
  return heldOutGain / (heldOutGain + gainHalf);
}

/**
 * The round score, in [0, 1]:
 *   0                                    if missing, equivocating, invalid, out of sync (sync = 0), a copy,
 *                                        late, or not evaluated (the first that applies is the reason);
 *   gainFactor(heldOutGain) × (1 + proof) / 2   otherwise.
 * With binary proof the second factor is 1 or 0 (Templar multiplies by the proof signal's average);
 * with the continuous variant it is 0.5 when own and held-out gains are equal.
 */
export function combineScore(
  inputs: ScoreInputs,
  options: Pick<ScoringOptions, "gainHalf"> = defaultScoringOptions,
): ScoreComponents {
  const base = {
    heldOutGain: inputs.heldOutGain,
    ownGain: inputs.ownGain,
    proof: inputs.proof,
    sync: inputs.sync,
    copyOf: inputs.copyOf,
    valid: inputs.present && inputs.valid,
  };
  let reason: ScoreReason = "ok";
  if (!inputs.present) reason = "missing";
  else if (inputs.equivocated) reason = "equivocation";
  else if (!inputs.valid) reason = `invalid:${inputs.invalidReason ?? "decode_failed"}`;
  else if (inputs.sync !== 1) reason = "out_of_sync";
  else if (inputs.copyOf !== null) reason = "copy";
  else if (inputs.late) reason = "late";
  else if (inputs.evaluated === false) reason = "not_evaluated";
  if (reason !== "ok") return { ...base, final: 0, reason };
  const proof = Number.isFinite(inputs.proof) ? Math.max(-1, Math.min(1, inputs.proof)) : -1;
  const final = gainFactor(inputs.heldOutGain, options.gainHalf) * ((1 + proof) / 2);
  return { ...base, final, reason: final > 0 ? "ok" : "no_gain" };
}

/** [0, 1] -> 0..65535 (NaN and negatives to 0, above 1 to 65535): the contract's score unit. */
export function toUint16Score(x: number): number {
  if (!(x > 0)) return 0;
  if (x >= 1) return 65535;
  return Math.round(x * 65535);
}

export function fromUint16Score(u: number): number {
  return u / 65535;
}

/** Flags of EncodedComponents.flags. */
export const ComponentFlag = { valid: 1, sync: 2, copy: 4, proofPositive: 8 } as const;

/** Integer form of the components, for a contract event or compact storage. */
export interface EncodedComponents {
  /** toUint16Score(final) */
  final: number;
  /** round(heldOutGain × 1e6) clamped to int32 (parts per million of the base loss). */
  heldOutGainPpm: number;
  ownGainPpm: number;
  /** ComponentFlag bits. */
  flags: number;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function ppm(x: number): number {
  if (Number.isNaN(x)) return 0;
  return Math.max(INT32_MIN, Math.min(INT32_MAX, Math.round(x * 1e6)));
}

export function encodeComponents(c: ScoreComponents): EncodedComponents {
  let flags = 0;
  if (c.valid) flags |= ComponentFlag.valid;
  if (c.sync === 1) flags |= ComponentFlag.sync;
  if (c.copyOf !== null) flags |= ComponentFlag.copy;
  if (c.proof > 0) flags |= ComponentFlag.proofPositive;
  return { final: toUint16Score(c.final), heldOutGainPpm: ppm(c.heldOutGain), ownGainPpm: ppm(c.ownGain), flags };
}

/**
 * One uint256-friendly integer (88 bits used): final (16) | heldOutGainPpm (32, two's complement)
 * | ownGainPpm (32) | flags (8), most significant first.
 */
export function packComponents(e: EncodedComponents): bigint {
  const u32 = (x: number) => BigInt(x >>> 0);
  return (BigInt(e.final) << 72n) | (u32(e.heldOutGainPpm) << 40n) | (u32(e.ownGainPpm) << 8n) | BigInt(e.flags & 0xff);
}

export function unpackComponents(p: bigint): EncodedComponents {
  const i32 = (x: bigint) => Number(BigInt.asIntN(32, x));
  return {
    final: Number((p >> 72n) & 0xffffn),
    heldOutGainPpm: i32((p >> 40n) & 0xffffffffn),
    ownGainPpm: i32((p >> 8n) & 0xffffffffn),
    flags: Number(p & 0xffn),
  };
}
