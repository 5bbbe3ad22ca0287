/** Typed errors of the training module; `code` is stable for callers and tests. */
export type TrainErrorCode = "BAD_BATCH" | "BAD_OPTIONS" | "BAD_STATE" | "NON_FINITE_LOSS" | "DISPOSED";

export class TrainError extends Error {
  override name = "TrainError";
  constructor(
    readonly code: TrainErrorCode,
    message: string,
  ) {
    super(message);
  }
}
