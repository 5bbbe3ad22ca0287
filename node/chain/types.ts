import type { PayloadEntry } from "./encoding.ts";

/** TrainingRun's deployment parameters as the client returns them (`runParams()`). */
export interface RunParams {
  configHash: string;
  genesis: number;
  roundSeconds: number;
  submissionSeconds: number;
  scoringSeconds: number;
  unstakeDelay: number;
  gatherSize: number;
  maxPeers: number;
  maxValidators: number;
  validatorShareBps: number;
  ratingAlphaBps: number;
  /** A validator whose mean |score − median| exceeds this share of 65535 gets no validator reward. */
  outlierBps: number;
  /** Consecutive zero-median rounds after which a peer is evicted (bond forfeited). */
  evictAfterRounds: number;
  rewardPerRound: bigint;
  minStake: bigint;
  /** Wei a peer locks to register (refunded on a good-standing exit). */
  peerBond: bigint;
}

/** Totals of a finalized round (the RoundFinalized event's last field). */
export interface RoundTotals {
  submissions: number;
  /** Slots whose scores counted (held by a peer registered no later than the round). */
  scoredPeers: number;
  /** Stake of every validator in the round's snapshot. */
  snapshotWeight: bigint;
  /** Snapshot stake of the validators that submitted. */
  submittedWeight: bigint;
  /** Snapshot stake behind the canonical (model hash, payload root). */
  agreeingWeight: bigint;
  scoreSum: bigint;
  peerRewards: bigint;
  validatorRewards: bigint;
}

/** What a mined transaction gave back. */
export interface TxResult {
  hash: string;
  blockNumber: number;
  gasUsed: bigint;
}

/** A validator's verdict on a round, in plain numbers (the client encodes it). */
export interface ScoreSubmission {
  round: number;
  /** H(θ_{round+1}), 0x-prefixed 32 bytes. */
  modelHash: string;
  /** The updates the validator aggregated: (peer index, payload sha256); the client sorts them. */
  payloads: readonly PayloadEntry[];
  /** Score per peer index, integers in [0, 65535]; missing trailing peers score 0. */
  scores: readonly number[];
  /** Optional score components per peer index (K int16 values each). */
  components?: readonly (readonly number[])[];
  /** Optional per-round int16 values (at most MAX_ROUND_COMPONENTS), e.g. the held-out loss per stage. */
  roundComponents?: readonly number[];
}

/** One entry of the run's config timeline: the config `configHash` is in effect from `fromRound` on. */
export interface ConfigTimelineEntry {
  fromRound: number;
  /** sha256 of the run config, 0x + 64 lowercase hex. */
  configHash: string;
}
