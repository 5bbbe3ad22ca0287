import { INLINE_PAYLOAD_LIMIT } from "./constants.ts";

export interface P2POptions {
  /** Run identifier; part of every topic name and checked in every message. */
  runId: string;
  /** Listen multiaddrs; tests use `/ip4/127.0.0.1/tcp/0`. */
  listen: string[];
  /**
   * Public addresses this node is known to be reachable at (libp2p `addresses.announce`), e.g. a relay's
   * or validator's `/ip4/<public ip>/tcp/4001` or `/dns4/<name>/tcp/4001`. Advertised as they are; without
   * them a public listen address is advertised only once AutoNAT confirmed it (4 peers dialled it back).
   */
  announce: string[];
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
  /** Largest blob this node fetches or serves (checkpoints are the big ones); the cap over every bound below. */
  blobMaxBytes: number;
  /**
   * Largest update payload: an announcement declaring more is rejected and nothing is fetched. The roles
   * pass the model's largest valid SparseLoCo encoding (node/sparseloco `maxUpdateBytes(specs)`).
   */
  maxUpdateBytes: number;
  /** Largest checkpoint payload (the roles pass the model's checkpoint size, node/model `checkpointBytes`). */
  maxCheckpointBytes: number;
  /**
   * Samples an update may declare it trained on (the run's min and max inner steps × batch size); an
   * announcement outside, or without the count, is rejected. null: not checked (a node built without a run).
   */
  updateSamples: { min: number; max: number } | null;
  /** Largest status heartbeat (encoded); an honest one is ~100 B. Above it: reject before decoding. */
  maxStatusBytes: number;
  /** Heartbeats accepted per author: `points` per fixed window of `windowMs` (honest: one per 5 s). */
  statusRateLimit: { points: number; windowMs: number };
  /** How long "this address is not registered" is remembered (one registry lookup per TTL per address). */
  registryNegativeTtlMs: number;
  /** Addresses remembered as not registered (least recently used evicted first). */
  registryNegativeCacheSize: number;
  /** Concurrent /cotrain/blob streams served: per requesting peer and in total. Above: answer BUSY. */
  blobServeLimits: { perPeer: number; global: number };
  /** Concurrent /cotrain/announcements streams served: per requesting peer and in total. */
  syncServeLimits: { perPeer: number; global: number };
  /** Deadline of one whole `syncAnnouncements` call, all peers queried in parallel. */
  syncTimeoutMs: number;
  /** Registered peers asked in parallel by one `syncAnnouncements` call (random choice among connected). */
  syncFanout: number;
  /** Cap on one sync response: envelopes and encoded bytes. Beyond them the response is cut off. */
  syncMaxMessages: number;
  syncMaxBytes: number;
  /**
   * Dial (and accept as dialling hints) loopback, private and link-local addresses. Off on a public run:
   * a registrant or announcer could otherwise make every node dial into its operator's LAN. The roles
   * turn it on for a dev chain (chain id 31337), where every node runs on 127.0.0.1.
   */
  allowPrivateAddresses: boolean;
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
  /** NAT traversal (js-libp2p's AutoNAT, circuit relay v2 and DCUtR); see docs/join-a-testnet.md "Behind NAT". */
  nat: NatOptions;
}

export interface NatOptions {
  /** Ask peers to dial our observed addresses back (AutoNAT); only confirmed ones are advertised. */
  autoNAT: boolean;
  /** Hold a reservation on a relay we are connected to (listen on /p2p-circuit), so peers can reach us through it. */
  useRelays: boolean;
  /** Try to upgrade a relayed connection to a direct one (DCUtR hole punching). */
  holePunch: boolean;
  /** Serve as a circuit relay v2 for others (`--relay`); every cost below is bounded and counted. */
  relay: RelayServerLimits | null;
}

/**
 * What one relay spends on strangers. Every field is attacker-controlled load: reservations are free to
 * ask for, so their number, lifetime and what each relayed connection may carry are capped here.
 */
export interface RelayServerLimits {
  /** Reservations held at once; further reservation requests are refused (RESERVATION_REFUSED). */
  maxReservations: number;
  /** A reservation's lifetime; the client renews it. */
  reservationTtlMs: number;
  /** A relayed connection is closed after this long (a hole punch or a direct dial should have replaced it). */
  durationLimitMs: number;
  /** A relayed connection is closed after this many bytes in each direction. */
  dataLimitBytes: number;
  /** Concurrent HOP streams (reservation and connect requests) accepted. */
  maxInboundHopStreams: number;
}

/**
 * Defaults of `--relay`. 2 min / 8 MiB per relayed connection is enough for gossip, heartbeats and a few
 * compressed updates of the nano/small presets until DCUtR upgrades or the connection is renewed; a relay
 * with 64 reservations serves at most 64 × 8 MiB per 2 min ≈ 4.5 MB/s each way in the worst case.
 */
export const defaultRelayServerLimits: RelayServerLimits = {
  maxReservations: 64,
  reservationTtlMs: 60 * 60_000,
  durationLimitMs: 2 * 60_000,
  dataLimitBytes: 8 * 1024 * 1024,
  maxInboundHopStreams: 32,
};

export const defaultP2POptions: P2POptions = {
  runId: "default",
  listen: ["/ip4/0.0.0.0/tcp/4001"],
  announce: [],
  bootstrap: [],
  maxConnections: 100,
  roundWindow: { past: 2, future: 1 },
  inlinePayloadLimit: INLINE_PAYLOAD_LIMIT,
  // an announcement is ~200 B plus an optional inline payload
  maxGossipBytes: INLINE_PAYLOAD_LIMIT + 16 * 1024,
  // a 1B-param float32 checkpoint is 4 GB; this network's models are far smaller
  blobMaxBytes: 1024 * 1024 * 1024,
  // the roles pass the model's bounds; these defaults only cap a node built without them
  maxUpdateBytes: 64 * 1024 * 1024,
  maxCheckpointBytes: 1024 * 1024 * 1024,
  updateSamples: null,
  maxStatusBytes: 1024,
  // 4 per 10 s: twice the honest rate (one per statusEveryMs = 5 s), so jitter and relays never hit it
  statusRateLimit: { points: 4, windowMs: 10_000 },
  // an unregistered key costs one lookup per 2 s however much it sends. Short on purpose: a peer that has
  // just registered and publishes its first heartbeat (every 5 s) into a stale "no" would be rejected
  // (P4) until the entry expires; 2 s is also the roles' ParticipantDirectory refresh period
  registryNegativeTtlMs: 2_000,
  registryNegativeCacheSize: 10_000,
  // a stalled stream holds at most one 256 KiB chunk and a write buffer: 32 × ~0.5 MiB in the worst case
  blobServeLimits: { perPeer: 4, global: 32 },
  syncServeLimits: { perPeer: 1, global: 8 },
  syncTimeoutMs: 5_000,
  syncFanout: 8,
  // a round holds one update and one checkpoint per participant: 1024 covers hundreds of peers over the
  // rounds a catch-up asks for; 32 MiB covers 128 inline payloads of 256 KiB
  syncMaxMessages: 1024,
  syncMaxBytes: 32 * 1024 * 1024,
  allowPrivateAddresses: false,
  blobTimeoutMs: 60_000,
  blobAttemptTimeoutMs: 20_000,
  blobRetryDelayMs: 250,
  dialAnnouncer: true,
  syncRetainRounds: 8,
  // an 85M-param update (~2.3 MB) fits in one window; measured 2.6-2.8 s vs 4.3-5.8 s for the bench at 256 KiB
  streamWindowBytes: 4 * 1024 * 1024,
  heartbeatIntervalMs: 1000,
  nat: { autoNAT: true, useRelays: true, holePunch: true, relay: null },
};

export function resolveP2POptions(partial: Partial<P2POptions>): P2POptions {
  const opts = {
    ...defaultP2POptions,
    ...partial,
    roundWindow: { ...defaultP2POptions.roundWindow, ...partial.roundWindow },
    statusRateLimit: { ...defaultP2POptions.statusRateLimit, ...partial.statusRateLimit },
    blobServeLimits: { ...defaultP2POptions.blobServeLimits, ...partial.blobServeLimits },
    syncServeLimits: { ...defaultP2POptions.syncServeLimits, ...partial.syncServeLimits },
    nat: { ...defaultP2POptions.nat, ...partial.nat },
  };
  const positive: [string, number][] = [
    ["maxUpdateBytes", opts.maxUpdateBytes],
    ["maxCheckpointBytes", opts.maxCheckpointBytes],
    ["maxStatusBytes", opts.maxStatusBytes],
    ["statusRateLimit.points", opts.statusRateLimit.points],
    ["statusRateLimit.windowMs", opts.statusRateLimit.windowMs],
    ["registryNegativeCacheSize", opts.registryNegativeCacheSize],
    ["blobServeLimits.perPeer", opts.blobServeLimits.perPeer],
    ["blobServeLimits.global", opts.blobServeLimits.global],
    ["syncServeLimits.perPeer", opts.syncServeLimits.perPeer],
    ["syncServeLimits.global", opts.syncServeLimits.global],
    ["syncTimeoutMs", opts.syncTimeoutMs],
    ["syncFanout", opts.syncFanout],
    ["syncMaxMessages", opts.syncMaxMessages],
    ["syncMaxBytes", opts.syncMaxBytes],
  ];
  if (opts.nat.relay !== null)
    for (const [k, v] of Object.entries(opts.nat.relay)) positive.push([`nat.relay.${k}`, v]);
  for (const [name, v] of positive)
    if (!Number.isSafeInteger(v) || v <= 0)
      throw new RangeError(`p2p option ${name} must be a positive integer, got ${v}`);
  if (opts.inlinePayloadLimit > INLINE_PAYLOAD_LIMIT) {
    throw new RangeError(
      `inlinePayloadLimit ${opts.inlinePayloadLimit} exceeds INLINE_PAYLOAD_LIMIT ${INLINE_PAYLOAD_LIMIT}`,
    );
  }
  return opts;
}
