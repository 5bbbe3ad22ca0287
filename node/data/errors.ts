/** Typed errors of the data module; `code` is stable for callers and tests. */
export type DataErrorCode =
  | "NO_CORPUS"
  | "BAD_MANIFEST"
  | "SHARD_HASH_MISMATCH"
  | "SHARD_MISSING"
  | "BAD_REQUEST"
  | "UNKNOWN_DATASET";

export class DataError extends Error {
  override name = "DataError";
  constructor(
    readonly code: DataErrorCode,
    message: string,
  ) {
    super(message);
  }
}
