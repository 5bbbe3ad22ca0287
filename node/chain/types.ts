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
  rewardPerRound: bigint;
  minStake: bigint;
}

/** Totals of a finalized round (the RoundFinalized event's last field). */
export interface RoundTotals {
  submissions: number;
  totalWeight: bigint;
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
  /** Peer indices whose updates the validator aggregated. */
  included: readonly number[];
  /** Score per peer index, integers in [0, 65535]; missing trailing peers score 0. */
  scores: readonly number[];
  /** Optional score components per peer index (K int16 values each). */
  components?: readonly (readonly number[])[];
}

/** Names of every event TrainingRun emits (the indexer decodes all of them). */
export type TrainingRunEventName =
  | "PeerRegistered"
  | "ValidatorStaked"
  | "UnstakeRequested"
  | "ValidatorWithdrew"
  | "ScoresSubmitted"
  | "RoundFinalized"
  | "PeerRewarded"
  | "ValidatorRewarded"
  | "CheckpointRecorded"
  | "Claimed";

/** One decoded event with its position in the chain. */
export interface ChainEvent {
  name: TrainingRunEventName;
  /** Named arguments; bytes as 0x hex strings, integers as bigint, structs as plain objects. */
  args: Record<string, unknown>;
  blockNumber: number;
  logIndex: number;
  transactionHash: string;
}
