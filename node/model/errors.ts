/** Typed errors of the model module; `code` is stable for callers and tests. */
export type ModelErrorCode =
  | "BAD_CONFIG"
  | "BACKEND_UNAVAILABLE"
  | "MISSING_PARAM"
  | "SHAPE_MISMATCH"
  | "BAD_CHECKPOINT"
  | "HASH_MISMATCH";

export class ModelError extends Error {
  override name = "ModelError";
  constructor(
    readonly code: ModelErrorCode,
    message: string,
  ) {
    super(message);
  }
}
