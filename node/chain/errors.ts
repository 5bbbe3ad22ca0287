/** Typed errors of the chain module; `code` is stable for callers and tests. */
export type ChainErrorCode =
  | "ARTIFACT_MISSING" // artifacts/ not built: run `npx hardhat compile` (npm test does)
  | "ANVIL_NOT_FOUND" // the @foundry-rs/anvil platform package is not installed
  | "ANVIL_START_FAILED"
  | "TX_FAILED" // a transaction reverted or could not be sent after the retries
  | "INSUFFICIENT_FUNDS" // the signer cannot pay value + gas; the message names the account and the value
  | "OUT_OF_GAS" // a mined transaction used all its gas (the state changed after the estimate); resent up to txRetries
  | "CONTRACT_REVERT" // a call reverted with one of TrainingRun's custom errors (see `revert`)
  | "BAD_PARAMS"
  | "BAD_DEPLOYMENT";

export class ChainError extends Error {
  override name = "ChainError";
  constructor(
    readonly code: ChainErrorCode,
    message: string,
    /** The decoded custom error, when a contract call reverted with one. */
    readonly revert?: { name: string; args: unknown[] },
  ) {
    super(message);
  }
}

/**
 * Reverts that mean "someone else already did it" (another validator finalized the round first, a
 * newer checkpoint landed, our own earlier transaction was mined): the state the caller wanted is
 * there, so they are logged at info, not as failures. v1 and v2 (TrainingRun…) names both count.
 */
const HARMLESS_RACES = new Set([
  "RoundAlreadyFinalized",
  "CheckpointNotNewer",
  "CheckpointAlreadyRecorded",
  "AlreadySubmitted",
  "PeerAlreadyRegistered",
]);

/** Whether `err` is a revert in HARMLESS_RACES (with or without the TrainingRun prefix). */
export function isHarmlessRace(err: unknown): boolean {
  if (!(err instanceof ChainError) || !err.revert) return false;
  return HARMLESS_RACES.has(err.revert.name.replace(/^TrainingRun/, ""));
}
