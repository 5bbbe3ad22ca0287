import type { FinalizedRound, RecordedCheckpoint } from "./chain-view.ts";

/**
 * The narrow views the round services take of shared components, so each says what it reads and a
 * unit test can hand it a small fake (tests/unit/roles-*.test.ts) instead of a whole node.
 */

/** What the round services read of the contract's history (ChainView implements it). */
export interface ChainReader {
  readonly finalized: ReadonlyMap<number, FinalizedRound>;
  readonly checkpoint: RecordedCheckpoint | null;
  lastFinalized(): FinalizedRound | undefined;
  /** Finalized, or finalized as skipped (no quorum): nothing more will happen to the round on chain. */
  isSettled(round: number): boolean;
  /** The gather set of `round`, or null while nothing is finalized (then every registered peer). */
  gatherSetFor(round: number): number[] | null;
  /** Re-reads the chain now (after our own transaction, or at the start of a round). */
  sync(): Promise<void>;
}

/** The peer registry by index (ParticipantDirectory implements it). */
export interface PeerRegistry {
  /** Registered peer addresses, lowercase, by registry index. */
  readonly peerList: readonly string[];
  refresh(force?: boolean): Promise<void>;
  indexOf(address: string): number | undefined;
}

/** Chain time of the round schedule (RoundClock implements it). */
export interface RoundTimes {
  now(): number;
  roundStart(round: number): number;
  submissionDeadline(round: number): number;
  scoringWindow(round: number): { opensAt: number; closesAt: number };
}
