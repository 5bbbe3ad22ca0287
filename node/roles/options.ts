/** Timing knobs of the roles; the round itself is fixed on chain (roundSeconds, submission/scoring windows). */
export interface RoleOptions {
  /** After the submission deadline, wait this long for late gossip before gathering. */
  gatherGraceMs: number;
  /** How long to keep fetching announced payloads after the grace period. */
  fetchTimeoutMs: number;
  /** Poll interval of the round loop and the chain event indexer. */
  pollMs: number;
  /** Status heartbeat period on the status topic. */
  statusEveryMs: number;
  /** Pause before retrying a round that failed (RPC down, reverted transaction). */
  retryDelayMs: number;
  /** A transaction sent later than this before a window closes may be mined after it: don't send. */
  txMarginSeconds: number;
  /** Blob retention: rounds of updates kept for replay by catching-up peers. */
  blobRetentionRounds: number;
}

export const defaultRoleOptions: RoleOptions = {
  gatherGraceMs: 1500,
  fetchTimeoutMs: 10_000,
  pollMs: 250,
  statusEveryMs: 5_000,
  retryDelayMs: 2_000,
  txMarginSeconds: 2,
  blobRetentionRounds: 16,
};
