/**
 * Error-feedback warm-up (docs/learning.md "H = 30"): a run may send its first `denseRounds` rounds
 * dense — every value of every chunk, still 2-bit — before top-k applies. With sparse rounds from the
 * start the error feedback has to fill before top-k moves the model much (held-out 4.54 after round 1
 * of H = 30 against DiLoCo's 2.85); one or two dense rounds remove that slow start, and the measured
 * H = 30 recipes that reach DiLoCo all use it. Every node derives a round's settings from the round
 * number alone, so peers, validators and a node replaying history agree on the layout.
 */

/** targetChunk ≤ 64 per dimension bounds every chunk at 64 × 64 values: k = 4096 keeps a whole chunk. */
export const MAX_CHUNK_VALUES = 4096;

/** The run's compression settings as far as the warm-up is concerned. */
export interface WarmupSettings {
  topk: number;
  /** Rounds (from round 0) sent dense; absent or 0: none. */
  denseRounds?: number;
}

/** Whether round `round` is an EF warm-up round of a run with `denseRounds` of them, sent dense. */
export function isDenseRound(denseRounds: number | undefined, round: number): boolean {
  return round < (denseRounds ?? 0);
}

/** The settings for round `round`: `opts` with k = a whole chunk during the warm-up, unchanged after it. */
export function roundCompression<T extends WarmupSettings>(opts: T, round: number): T {
  return isDenseRound(opts.denseRounds, round) ? { ...opts, topk: MAX_CHUNK_VALUES } : opts;
}

/**
 * The settings whose payloads are the largest any round of the run may carry: what bounds a payload
 * before its round is known (gossip, blob store, fetch). Round 0's: it is a warm-up round whenever the
 * run has one, and a warm-up payload is about 4096 / topk times a sparse one; decoding still applies
 * the round's own bound.
 */
export function largestCompression<T extends WarmupSettings>(opts: T): T {
  return roundCompression(opts, 0);
}
