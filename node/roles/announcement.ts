import { type Hash32, ZERO_HASH32, hash32Bytes } from "../hash/index.ts";
import { INLINE_PAYLOAD_LIMIT, type UpdateAnnouncement } from "../p2p/index.ts";

/** What a node announces for its update (the p2p node fills in runId and its multiaddrs). */
export type Announcement = Omit<UpdateAnnouncement, "runId" | "multiaddrs">;

/**
 * Payloads up to a quarter of the gossip inline limit ride inside the announcement: small enough that
 * every gossip hop re-sending them to D mesh peers costs less than one fetch round trip each.
 */
export const INLINE_ANNOUNCE_BYTES = INLINE_PAYLOAD_LIMIT / 4;

/**
 * The one announcement builder (the peer's own update, its re-creation after a restart, and test hooks
 * all go through it): hashes in wire form, the payload inline when small, else fetched by hash.
 */
export function buildAnnouncement(a: {
  round: number;
  baseModelHash: Hash32;
  payloadHash: Hash32;
  /** The payload itself when at hand (decides inlining), else only its size. */
  payload: Uint8Array | { byteLength: number };
  /** keccak256 over the assigned samples (node/data sampleDigest); zeros when not known. */
  dataDigest?: Hash32;
}): Announcement {
  const inline = a.payload instanceof Uint8Array && a.payload.byteLength <= INLINE_ANNOUNCE_BYTES;
  return {
    round: a.round,
    baseModelHash: hash32Bytes(a.baseModelHash),
    payloadHash: hash32Bytes(a.payloadHash),
    payloadBytes: a.payload.byteLength,
    dataDigest: hash32Bytes(a.dataDigest ?? ZERO_HASH32),
    inlinePayload: inline ? new Uint8Array(a.payload as Uint8Array) : undefined,
  };
}
