/**
 * Why a payload was rejected. Every failure of `decodeUpdate` / `decodeDenseUpdate` is a
 * `SparseLocoDecodeError` with one of these reasons, so a validator can score "invalid" without
 * parsing messages (Templar rejects the same conditions in `comms.gather`; covenant-facts §1).
 */
export type DecodeErrorReason =
  | "OVERSIZED"
  | "MALFORMED"
  | "UNSUPPORTED_VERSION"
  | "UNKNOWN_TENSOR"
  | "DUPLICATE_TENSOR"
  | "MISSING_TENSOR"
  | "WRONG_SHAPE"
  | "WRONG_CHUNK_GRID"
  | "WRONG_K"
  | "WRONG_LENGTH"
  | "INDEX_OUT_OF_RANGE"
  | "DUPLICATE_INDEX"
  | "BAD_TABLE"
  | "BAD_PADDING"
  | "NON_FINITE";

export class SparseLocoDecodeError extends Error {
  override name = "SparseLocoDecodeError";
  constructor(
    readonly reason: DecodeErrorReason,
    message: string,
    readonly tensor?: string,
  ) {
    super(tensor === undefined ? message : `${tensor}: ${message}`);
  }
}

/** Programming errors on the local side (bad shapes, length mismatches, non-finite deltas). */
export type SparseLocoErrorCode =
  | "BAD_SHAPE"
  | "LENGTH_MISMATCH"
  | "MISSING_TENSOR"
  | "NON_FINITE_DELTA"
  | "BIG_ENDIAN_HOST";

export class SparseLocoError extends Error {
  override name = "SparseLocoError";
  constructor(
    readonly code: SparseLocoErrorCode,
    message: string,
  ) {
    super(message);
  }
}
