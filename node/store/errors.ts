/** Typed errors of the store; `code` is stable for callers and tests. */
export type StoreErrorCode =
  | "DB_LOCKED" // another process (or another Db in this one) holds the LevelDB lock
  | "DB_OPEN_FAILED"
  | "CORRUPT_RECORD" // a stored value failed to decode or has the wrong size
  | "BLOB_HASH_MISMATCH"
  | "INCONSISTENT_STATE"; // a marker points at tensors that are not there

export class StoreError extends Error {
  override name = "StoreError";
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
