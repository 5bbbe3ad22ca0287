import type { ScoreComponents, ScoreReason } from "./combine.ts";

/**
 * The per-peer score components a validator puts in `ScoresSubmitted.components` (docs/contract.md:
 * one byte K, then K big-endian int16 per peer index). The contract never parses them; they exist so
 * anyone can audit a round from events alone (DESIGN step 7: "events for every score component").
 * This file is the ONE definition of their meaning: validators encode with `encodeChainComponents`,
 * the explorer and tools decode with `decodeChainComponents`.
 *
 *   index 0  heldOutLossBeforeMilli  held-out loss of θ_r × 1000 (the same for every peer of a round)
 *   index 1  heldOutLossAfterMilli   held-out loss of θ_r − η·update × 1000
 *   index 2  heldOutGainBp           relative held-out gain (before − after) / before, basis points
 *   index 3  ownGainBp               relative gain on the peer's own assigned samples, basis points
 *   index 4  flags                   bit0 valid, bit1 in sync, bit2 copy, bit3 proof of training > 0,
 *                                    bit4 missing; bits 8-15 the reason code (REASONS)
 *
 * Fixed point in int16 keeps a 64-peer submission at ~12.7k extra gas; ×1000 resolves a loss to
 * 0.001 nats up to 32.767 (an untrained model over a 50k vocabulary starts near ln 50257 ≈ 10.8) and
 * basis points resolve gains to 0.01 % up to ±327 %.
 */
export const CHAIN_COMPONENT_COUNT = 5;

/** Names of the int16 slots, by index (for tables and JSON). */
export const CHAIN_COMPONENT_NAMES = [
  "heldOutLossBeforeMilli",
  "heldOutLossAfterMilli",
  "heldOutGainBp",
  "ownGainBp",
  "flags",
] as const;

/** int16 value meaning "not measured" (a missing update has no loss after, a NaN loss has no value). */
export const COMPONENT_UNSET = -32768;
const INT16_MAX = 32767;
/** Largest magnitude a measured value is clamped to; -32768 stays reserved for COMPONENT_UNSET. */
const CLAMP = INT16_MAX;

export const COMPONENT_FLAGS = {
  valid: 1 << 0,
  inSync: 1 << 1,
  copy: 1 << 2,
  proofPositive: 1 << 3,
  missing: 1 << 4,
} as const;

/**
 * Reason codes (bits 8-15 of the flags slot). Codes are never renumbered: old events must still
 * decode. New reasons get the next free code.
 */
export const REASONS = {
  0: "ok",
  1: "missing",
  2: "decode_error",
  3: "non_finite",
  4: "wrong_base_hash",
  5: "copy",
  6: "norm_out_of_bounds",
  7: "no_proof_of_training",
  8: "empty",
  9: "unsorted_indices",
  10: "no_gain",
  11: "late",
  12: "equivocation",
  13: "not_evaluated",
} as const satisfies Record<number, string>;

export type ReasonCode = keyof typeof REASONS;
export type ReasonName = (typeof REASONS)[ReasonCode];

const REASON_CODES = new Map<string, number>(Object.entries(REASONS).map(([code, name]) => [name, Number(code)]));

/** A peer's components in natural units (what validators compute and what the explorer shows). */
export interface ChainComponents {
  /** Held-out loss of θ_r in nats; null when not measured. */
  heldOutLossBefore: number | null;
  /** Held-out loss of θ_r − η·update in nats; null when not measured (e.g. missing update). */
  heldOutLossAfter: number | null;
  /** Relative held-out gain as a fraction (0.01 = 1 %); null when not measured. */
  heldOutGain: number | null;
  /** Relative gain on the peer's own samples as a fraction; null when not measured. */
  ownGain: number | null;
  valid: boolean;
  inSync: boolean;
  copy: boolean;
  proofPositive: boolean;
  missing: boolean;
  /** A REASONS name; an unknown code decodes as `unknown:<code>`. */
  reason: ReasonName | `unknown:${number}`;
}

/** Input of `encodeChainComponents`: measurements may be omitted or non-finite (→ COMPONENT_UNSET). */
export type ChainComponentsInput = Partial<Omit<ChainComponents, "reason">> & { reason?: ReasonName | number };

/** Rounds and clamps to int16; NaN/undefined/null → COMPONENT_UNSET, ±∞ → ±32767. */
function fixed(value: number | null | undefined, scale: number): number {
  if (value === null || value === undefined || Number.isNaN(value)) return COMPONENT_UNSET;
  const v = Math.round(value * scale);
  if (!(v < CLAMP)) return CLAMP; // also +∞
  if (!(v > -CLAMP)) return -CLAMP;
  return v;
}

function unfixed(raw: number | undefined, scale: number): number | null {
  if (raw === undefined || raw === COMPONENT_UNSET) return null;
  return raw / scale;
}

/** The five int16 values of one peer, ready for `client.submitScores({components})`. */
export function encodeChainComponents(c: ChainComponentsInput): number[] {
  const reason = typeof c.reason === "number" ? c.reason : REASON_CODES.get(c.reason ?? "ok");
  if (reason === undefined || !Number.isInteger(reason) || reason < 0 || reason > 255) {
    throw new RangeError(`unknown score reason ${String(c.reason)}`);
  }
  let flags = reason << 8;
  if (c.valid) flags |= COMPONENT_FLAGS.valid;
  if (c.inSync) flags |= COMPONENT_FLAGS.inSync;
  if (c.copy) flags |= COMPONENT_FLAGS.copy;
  if (c.proofPositive) flags |= COMPONENT_FLAGS.proofPositive;
  if (c.missing) flags |= COMPONENT_FLAGS.missing;
  // The slot is int16 on the wire: reinterpret the uint16 bit pattern as signed.
  const signedFlags = flags > INT16_MAX ? flags - 0x10000 : flags;
  return [
    fixed(c.heldOutLossBefore, 1000),
    fixed(c.heldOutLossAfter, 1000),
    fixed(c.heldOutGain, 10_000),
    fixed(c.ownGain, 10_000),
    signedFlags,
  ];
}

/**
 * One peer's int16 values (from `decodeComponents`) → natural units. Extra trailing values (a later
 * K) are ignored; missing ones decode as not measured, so older and newer validators stay readable.
 */
export function decodeChainComponents(values: readonly number[]): ChainComponents {
  const flags = (values[4] ?? 0) & 0xffff;
  const code = flags >> 8;
  const name = REASONS[code as ReasonCode];
  return {
    heldOutLossBefore: unfixed(values[0], 1000),
    heldOutLossAfter: unfixed(values[1], 1000),
    heldOutGain: unfixed(values[2], 10_000),
    ownGain: unfixed(values[3], 10_000),
    valid: (flags & COMPONENT_FLAGS.valid) !== 0,
    inSync: (flags & COMPONENT_FLAGS.inSync) !== 0,
    copy: (flags & COMPONENT_FLAGS.copy) !== 0,
    proofPositive: (flags & COMPONENT_FLAGS.proofPositive) !== 0,
    missing: (flags & COMPONENT_FLAGS.missing) !== 0,
    reason: name ?? `unknown:${code}`,
  };
}

/** Maps the scorer's reason (node/scoring/combine.ts) onto a chain reason name. */
export function chainReasonOf(reason: ScoreReason): ReasonName {
  switch (reason) {
    case "ok":
    case "missing":
    case "copy":
    case "no_gain":
    case "late":
    case "equivocation":
    case "not_evaluated":
      return reason;
    case "out_of_sync":
      return "wrong_base_hash";
    case "invalid:decode_failed":
      return "decode_error";
    case "invalid:non_finite":
      return "non_finite";
    case "invalid:norm_too_large":
    case "invalid:norm_too_small":
      return "norm_out_of_bounds";
    case "invalid:empty":
      return "empty";
    case "invalid:unsorted_indices":
      return "unsorted_indices";
    default:
      return "decode_error";
  }
}

/**
 * The validator's path: the scorer's verdict (combineScore) plus the two held-out losses it measured
 * → the five int16 values of that peer.
 */
export function chainComponentsFromScore(
  score: ScoreComponents,
  losses: { before: number | null; after: number | null },
): number[] {
  // no gain was measured for these: the slots say "not measured", not a gain of 0
  const measured = !["missing", "late", "equivocation", "not_evaluated"].includes(score.reason);
  return encodeChainComponents({
    heldOutLossBefore: losses.before,
    heldOutLossAfter: losses.after,
    heldOutGain: measured ? score.heldOutGain : null,
    ownGain: measured ? score.ownGain : null,
    valid: score.valid,
    inSync: score.sync === 1,
    copy: score.copyOf !== null,
    proofPositive: score.proof > 0,
    missing: score.reason === "missing",
    reason: chainReasonOf(score.reason),
  });
}

/**
 * The per-round values of a submission (docs/contract.md, the second components layout): value i is the
 * held-out loss of θ_r on stage i's held-out windows × 1000 (stages in run-config order, every stage in
 * effect up to round r; docs/explorer.md "Held-out loss per stage"), COMPONENT_UNSET where the
 * validator's time budget ran out before it evaluated that stage. Emitted only when the run has more
 * than one stage in effect: a one-stage run's loss is component 0 of every peer row.
 */
export function encodeStageHeldOut(losses: readonly (number | null)[]): number[] {
  return losses.map((l) => fixed(l, 1000));
}

/**
 * Inverse of encodeStageHeldOut for any validator's bytes: a loss is never negative, so a negative
 * value other than COMPONENT_UNSET (only a hostile or broken validator writes one) decodes as not
 * measured, like COMPONENT_UNSET. The count is bounded by the byte decoder (MAX_ROUND_COMPONENTS).
 */
export function decodeStageHeldOut(values: readonly number[]): (number | null)[] {
  return values.map((v) => (Number.isInteger(v) && v >= 0 ? v / 1000 : null));
}
