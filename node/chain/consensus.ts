/**
 * JavaScript references of TrainingRun's round consensus (docs/contract.md "Finalize"). The contract
 * tests compare the contract against them on random sets; nodes may use them to predict an outcome.
 */

import { MAX_SCORE } from "./encoding.ts";

/**
 * Stake-weighted median, the contract's rule (ScoreMath.weightedMedian): sort by value; the first value
 * whose cumulative weight exceeds half the total; when the cumulative weight equals exactly half, the
 * midpoint (rounded down) of that value and the next. A set with at most half the weight never decides
 * it alone. Weights must be positive.
 */
export function weightedMedian(values: readonly number[], weights: readonly bigint[]): number {
  if (values.length === 0) return 0;
  const total = weights.reduce((a, b) => a + b, 0n);
  if (total === 0n) return 0;
  // Ties in value sort by weight, as the contract sorts (value << 128 | weight).
  const order = values
    .map((v, i) => [v, weights[i]] as const)
    .sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  let cum = 0n;
  for (let i = 0; i < order.length; i++) {
    cum += order[i][1];
    if (cum * 2n > total) return order[i][0];
    if (cum * 2n === total) return i + 1 < order.length ? Math.floor((order[i][0] + order[i + 1][0]) / 2) : order[i][0];
  }
  return order[order.length - 1][0];
}

/** A submission as the consensus sees it. */
export interface ConsensusSubmission {
  weight: bigint;
  modelHash: string;
  payloadRoot: string;
}

export type RoundOutcome =
  | { status: "skipped"; bestWeight: bigint; submittedWeight: bigint }
  | { status: "finalized"; canonical: number; agreeingWeight: bigint; submittedWeight: bigint };

/**
 * Quorum rule: the (model hash, payload root) pair with the most snapshot stake (ties: the earliest
 * submitted) becomes canonical iff its stake is more than half of the snapshot's; else the round is
 * skipped. `canonical` is the index of its first submission.
 */
export function roundOutcome(subs: readonly ConsensusSubmission[], snapshotWeight: bigint): RoundOutcome {
  const key = (s: ConsensusSubmission) => `${s.modelHash.toLowerCase()}/${s.payloadRoot.toLowerCase()}`;
  let best = -1;
  let bestWeight = 0n;
  let submittedWeight = 0n;
  for (const s of subs) submittedWeight += s.weight;
  subs.forEach((s, i) => {
    const w = subs.filter((o) => key(o) === key(s)).reduce((a, o) => a + o.weight, 0n);
    if (w > bestWeight) [best, bestWeight] = [i, w];
  });
  if (best < 0 || bestWeight * 2n <= snapshotWeight) return { status: "skipped", bestWeight, submittedWeight };
  return { status: "finalized", canonical: best, agreeingWeight: bestWeight, submittedWeight };
}

/**
 * Whether a validator's scores are within the band: mean |score − median| over the scored peers at
 * most outlierBps / 10 000 of the score range (the contract compares the sums, without rounding).
 */
export function withinBand(scores: readonly number[], medians: readonly number[], outlierBps: number): boolean {
  let deviation = 0n;
  medians.forEach((m, i) => {
    deviation += BigInt(Math.abs((scores[i] ?? 0) - m));
  });
  return deviation * 10_000n <= BigInt(outlierBps) * BigInt(medians.length) * BigInt(MAX_SCORE);
}
