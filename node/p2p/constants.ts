/**
 * Payloads up to this size may ride inside the announcement itself. Gossipsub drops frames over 4 MiB
 * silently and every gossip hop re-sends the full message to D mesh peers, so only small updates go
 * inline; anything larger is fetched once per receiver by hash over the blob protocol.
 */
export const INLINE_PAYLOAD_LIMIT = 256 * 1024;

/** Request/response protocol serving blobs (update payloads, checkpoints) by sha256. */
export const BLOB_PROTOCOL = "/cotrain/blob/1.0.0";

/** Request/response protocol replaying the signed announcements a node missed (restart, late join). */
export const SYNC_PROTOCOL = "/cotrain/announcements/1.0.0";

export type TopicKind = "updates" | "checkpoints" | "status";
export const TOPIC_KINDS: readonly TopicKind[] = ["updates", "checkpoints", "status"];

/** `/cotrain/<runId>/<kind>/1`: one topic per run and message kind, versioned like Ethereum's topics. */
export function topicName(runId: string, kind: TopicKind): string {
  return `/cotrain/${runId}/${kind}/1`;
}
