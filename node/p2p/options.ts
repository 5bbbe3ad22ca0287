import { INLINE_PAYLOAD_LIMIT } from "./constants.ts";

export interface P2POptions {
  /** Run identifier; part of every topic name and checked in every message. */
  runId: string;
  /** Listen multiaddrs; tests use `/ip4/127.0.0.1/tcp/0`. */
  listen: string[];
  /** Multiaddrs (with /p2p/<id>) dialled at start and kept as bootstrap peers. */
  bootstrap: string[];
  /** libp2p connection manager limit. */
  maxConnections: number;
  /** Accepted rounds are [current − past, current + future] (publish for round r happens in r+1). */
  roundWindow: { past: number; future: number };
  /** Inline payloads above this are rejected; never above INLINE_PAYLOAD_LIMIT. */
  inlinePayloadLimit: number;
  /** Largest gossip message (encoded announcement) accepted; above it: reject before decoding. */
  maxGossipBytes: number;
  /** Largest blob this node fetches or serves (checkpoints are the big ones). */
  blobMaxBytes: number;
  /** Deadline for one whole fetchBlob call, all providers together. */
  blobTimeoutMs: number;
  /** Deadline per provider attempt inside fetchBlob. */
  blobAttemptTimeoutMs: number;
  /** Pause between provider sweeps while nobody has the blob yet (it may still be in flight). */
  blobRetryDelayMs: number;
  /** Dial the announcer's advertised multiaddrs when it is not connected (off: fetch hop by hop). */
  dialAnnouncer: boolean;
  /** Rounds of signed announcements kept for /cotrain/announcements (catch-up of restarted peers). */
  syncRetainRounds: number;
  /** Initial yamux stream window (bytes a sender may have in flight per stream). */
  streamWindowBytes: number;
  /** Gossipsub heartbeat; shortened in tests so meshes form quickly. */
  heartbeatIntervalMs: number;
}

export const defaultP2POptions: P2POptions = {
  runId: "default",
  listen: ["/ip4/0.0.0.0/tcp/4001"],
  bootstrap: [],
  maxConnections: 100,
  roundWindow: { past: 2, future: 1 },
  inlinePayloadLimit: INLINE_PAYLOAD_LIMIT,
  // an announcement is ~200 B plus an optional inline payload
  maxGossipBytes: INLINE_PAYLOAD_LIMIT + 16 * 1024,
  // a 1B-param float32 checkpoint is 4 GB; this network's models are far smaller
  blobMaxBytes: 1024 * 1024 * 1024,
  blobTimeoutMs: 60_000,
  blobAttemptTimeoutMs: 20_000,
  blobRetryDelayMs: 250,
  dialAnnouncer: true,
  syncRetainRounds: 8,
  // an 85M-param update (~2.3 MB) fits in one window; measured 2.6-2.8 s vs 4.3-5.8 s for the bench at 256 KiB
  streamWindowBytes: 4 * 1024 * 1024,
  heartbeatIntervalMs: 1000,
};

export function resolveP2POptions(partial: Partial<P2POptions>): P2POptions {
  const opts = {
    ...defaultP2POptions,
    ...partial,
    roundWindow: { ...defaultP2POptions.roundWindow, ...partial.roundWindow },
  };
  if (opts.inlinePayloadLimit > INLINE_PAYLOAD_LIMIT) {
    throw new RangeError(
      `inlinePayloadLimit ${opts.inlinePayloadLimit} exceeds INLINE_PAYLOAD_LIMIT ${INLINE_PAYLOAD_LIMIT}`,
    );
  }
  return opts;
}
