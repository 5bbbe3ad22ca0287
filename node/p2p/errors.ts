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

/** The node could not start: `address` is the listen multiaddr (and `port` its TCP port) that failed. */
export class P2PListenError extends Error {
  override name = "P2PListenError";
  constructor(
    readonly address: string,
    readonly port: number | null,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Turns libp2p's "Some configured addresses failed to be listened on … /ip4/…/tcp/4001: Error: listen
 * EADDRINUSE …" into one line naming the address and port; null when `err` is not a listen failure.
 */
export function listenErrorOf(err: unknown): P2PListenError | null {
  const text = err instanceof Error ? err.message : String(err);
  const m = /^\s*(\/\S+): Error: listen (\w+)/m.exec(text);
  if (!m) return null;
  const [, address, code] = m;
  const port = /\/tcp\/(\d+)/.exec(address)?.[1];
  const why =
    code === "EADDRINUSE"
      ? `port ${port} is already in use (another cotrain node?); pass another --listen port`
      : code === "EADDRNOTAVAIL"
        ? "no interface has that address; pass a --listen address of this machine"
        : code === "EACCES"
          ? `port ${port} needs privileges; pass a port above 1023`
          : code;
  return new P2PListenError(address, port ? Number(port) : null, `cannot listen on ${address}: ${why} (${code})`);
}
