/** Typed errors of the scoring functions; `code` is stable for callers and tests. */
export type ScoringErrorCode = "BAD_LOSS" | "BAD_HASH" | "BAD_INPUT";

export class ScoringError extends Error {
  override name = "ScoringError";
  constructor(
    readonly code: ScoringErrorCode,
    message: string,
  ) {
    super(message);
  }
}
