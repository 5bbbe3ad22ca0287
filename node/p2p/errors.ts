/** What gossipsub does with a message that failed validation (Lodestar's GossipAction). */
export enum GossipAction {
  /** Drop, do not forward, no penalty: the message may be fine for others (e.g. a stale round). */
  IGNORE = "IGNORE",
  /** Drop, do not forward, and count an invalid delivery against the propagating peer's score (P4). */
  REJECT = "REJECT",
}

export type GossipErrorCode =
  | "TOO_LARGE"
  | "PAYLOAD_TOO_LARGE"
  | "RATE_LIMITED"
  | "DECODE_FAILED"
  | "UNSIGNED"
  | "NOT_REGISTERED"
  | "WRONG_RUN"
  | "ROUND_OUT_OF_WINDOW"
  | "EQUIVOCATION"
  | "DUPLICATE"
  | "BAD_HASH"
  | "INLINE_TOO_LARGE"
  | "INLINE_HASH_MISMATCH"
  | "INLINE_SIZE_MISMATCH"
  | "BAD_FIELD"
  | "APP_INVALID";

/** A gossip message failed validation; `action` decides ignore vs reject (errors-to-result.ts). */
export class GossipValidationError extends Error {
  override name = "GossipValidationError";
  constructor(
    readonly code: GossipErrorCode,
    readonly action: GossipAction,
    message: string,
  ) {
    super(message);
  }
}

export type BlobErrorCode =
  | "NOT_FOUND"
  | "TOO_LARGE"
  | "HASH_MISMATCH"
  | "TIMEOUT"
  | "PROTOCOL"
  | "NO_PROVIDERS"
  | "BAD_HASH"
  | "BUSY"
  | "FORBIDDEN"
  /** the provider declared or sent more than we asked for: hostile (an honest one answers TOO_LARGE) */
  | "OVERSIZED";

/** fetchBlob failed; one attempt's error or, for the whole call, the last error after all providers. */
export class BlobError extends Error {
  override name = "BlobError";
  constructor(
    readonly code: BlobErrorCode,
    message: string,
  ) {
    super(message);
  }
}
