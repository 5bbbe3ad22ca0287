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
  | "BAD_DEPLOYMENT"
  | "NOT_OPERATOR" // a call only the run's operator (the contract's owner) may make; the message names both addresses
  | "CONFIG_TOO_SOON" // appendConfig: fromRound < current round + 2; the message names the earliest allowed round
  | "CONFIG_NOT_AFTER_LAST" // appendConfig: fromRound <= the last timeline entry's round (named)
  | "BAD_CONFIG_HASH" // appendConfig: not 32 bytes of 0x hex, or zero
  | "TIMELINE_TOO_LONG"; // the config timeline has more entries than maxConfigEntries

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

/** What appendConfig was asked to append, and who the operator is, for configRevertError's message. */
export interface AppendConfigContext {
  fromRound: number;
  configHash: string;
  /** The signer that sent it. */
  sender: string;
  /** The run's operator (owner()) when the call was made. */
  operator: string;
}

/**
 * The typed error of an appendConfig revert: one line naming the round, the hash and what to do. Any
 * other error is returned unchanged.
 */
export function configRevertError(err: unknown, ctx: AppendConfigContext): unknown {
  if (!(err instanceof ChainError) || !err.revert) return err;
  const { name, args } = err.revert;
  const what = `appendConfig(${ctx.fromRound}, ${ctx.configHash})`;
  switch (name) {
    case "OwnableUnauthorizedAccount":
      return new ChainError(
        "NOT_OPERATOR",
        `${what}: ${ctx.sender} is not the run's operator ${ctx.operator} (the operator hands the role over: cotrain run transfer-operator, then the new one runs accept-operator)`,
        err.revert,
      );
    case "TrainingRunConfigTooSoon":
      return new ChainError(
        "CONFIG_TOO_SOON",
        `${what}: round ${ctx.fromRound} is too soon; the earliest round a config can take effect now is ${String(args[1])} (current round + 2)`,
        err.revert,
      );
    case "TrainingRunConfigNotAfterLast":
      return new ChainError(
        "CONFIG_NOT_AFTER_LAST",
        `${what}: round ${ctx.fromRound} must come after the last timeline entry's round ${String(args[1])}`,
        err.revert,
      );
    case "TrainingRunZeroConfigHash":
      return new ChainError("BAD_CONFIG_HASH", `${what}: the config hash must not be zero`, err.revert);
    default:
      return err;
  }
}
