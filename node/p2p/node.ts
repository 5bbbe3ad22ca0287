import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { bootstrap } from "@libp2p/bootstrap";
import { type CircuitRelayService, circuitRelayTransport } from "@libp2p/circuit-relay-v2";
import {
  type GossipSub,
  type GossipsubMessage,
  type Message,
  StrictSign,
  TopicValidatorResult,
  gossipsub,
} from "@libp2p/gossipsub";
import { identify } from "@libp2p/identify";
import type { Libp2p, Metrics, PeerId } from "@libp2p/interface";
import { ping } from "@libp2p/ping";
import { tcp } from "@libp2p/tcp";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { bytesToHex } from "../hash/index.ts";
import { type Identity, addressFromPeerId } from "../identity/index.ts";
import { type BlobStore, handleBlobRequests } from "./blob.ts";
import { BlobFetcher, type FetchBlobOptions } from "./blob-fetcher.ts";
import { TOPIC_KINDS, type TopicKind, topicName } from "./constants.ts";
import { type Equivocation, EquivocationRecord } from "./equivocation.ts";
import { advertisableAddrs } from "./address-filter.ts";
import { BlobError, GossipValidationError, listenErrorOf } from "./errors.ts";
import { type ValidationOutcome, toValidationOutcome } from "./errors-to-result.ts";
import { type P2PMetrics, createP2PMetrics } from "./metrics.ts";
import { natServices } from "./nat.ts";
import { type P2POptions, resolveP2POptions } from "./options.ts";
import { CheckpointAnnouncement, StatusHeartbeat, UpdateAnnouncement } from "./pb/gossip.ts";
import { RegistrationCache } from "./registration.ts";
import { cotrainPeerScoreParams, cotrainScoreThresholds } from "./scoring.ts";
import { StreamLimiter } from "./stream-limiter.ts";
import { AnnouncementLog, type SyncResult, handleSyncRequests, requestAnnouncements, toSignedGossip } from "./sync.ts";
import { type GossipSender, GossipValidator, type ValidatedGossip } from "./validation.ts";

export interface P2PNodeDeps {
  identity: Identity;
  /** Registry lookup (the chain in production, a Set in tests). */
  isRegistered: (address: string) => boolean | Promise<boolean>;
  /** Round clock; announcements outside [current − past, current + future] are ignored. */
  currentRound?: () => number;
  blobStore: BlobStore;
  registry?: Registry;
  logger?: Logger;
  /** libp2p's own metrics hook (transport byte counts in scripts/bench-p2p.ts). */
  libp2pMetrics?: (components: unknown) => Metrics;
}

/** gossipsub's concrete class carries these; its exported interface type is narrower. */
type GossipSubService = GossipSub & {
  getScore(peerId: string): number;
  reportMessageValidationResult(msgId: string, propagationSource: string, acceptance: TopicValidatorResult): void;
  getMeshPeers(topic: string): string[];
};

type Handler<T> = (message: T, from: GossipSender) => void;
type PublishFields<T> = Omit<T, "runId" | "multiaddrs"> & { multiaddrs?: Uint8Array<ArrayBuffer>[] };

/**
 * One participant's libp2p node: gossip topics of one run with validation and scoring, the blob
 * protocol and announcement catch-up. Construct with `P2PNode.init(options, deps)`, then `start()`;
 * after `stop()` build a new node (same identity and store) rather than restarting this one.
 */
export class P2PNode {
  readonly opts: P2POptions;
  private readonly metrics: P2PMetrics | null;
  private readonly logger: Logger | undefined;
  private readonly validator: GossipValidator;
  private readonly log: AnnouncementLog;
  private readonly equivocationRecord: EquivocationRecord;
  private readonly equivocationHandlers = new Set<(e: Equivocation) => void>();
  private readonly penalties: Map<string, number>;
  private readonly handlers = {
    updates: new Set<Handler<UpdateAnnouncement>>(),
    checkpoints: new Set<Handler<CheckpointAnnouncement>>(),
    status: new Set<Handler<StatusHeartbeat>>(),
  };
  private readonly kindByTopic: Map<string, TopicKind>;
  private readonly registration: RegistrationCache;
  private readonly blobLimiter: StreamLimiter;
  private readonly syncLimiter: StreamLimiter;
  readonly blobs: BlobFetcher;

  private constructor(
    opts: P2POptions,
    private readonly deps: P2PNodeDeps,
    readonly libp2p: Libp2p<{ pubsub: GossipSub }>,
    penalties: Map<string, number>,
  ) {
    this.opts = opts;
    this.penalties = penalties;
    this.metrics = deps.registry
      ? createP2PMetrics(deps.registry, {
          connections: () => this.connectionCounts(),
          relayReservations: () => this.relay?.reservations.size ?? null,
        })
      : null;
    this.logger = deps.logger?.child({ module: "p2p" });
    this.registration = new RegistrationCache(opts, { isRegistered: deps.isRegistered, metrics: this.metrics });
    this.validator = new GossipValidator(opts, {
      isRegistered: (a) => this.registration.isRegistered(a),
      currentRound: deps.currentRound,
    });
    this.blobLimiter = new StreamLimiter(opts.blobServeLimits, (n) =>
      this.metrics?.activeStreams.set({ protocol: "blob" }, n),
    );
    this.syncLimiter = new StreamLimiter(opts.syncServeLimits, (n) =>
      this.metrics?.activeStreams.set({ protocol: "sync" }, n),
    );
    this.log = new AnnouncementLog(opts.syncRetainRounds);
    this.equivocationRecord = new EquivocationRecord(opts.syncRetainRounds);
    this.kindByTopic = new Map(TOPIC_KINDS.map((k) => [topicName(opts.runId, k), k]));
    this.blobs = new BlobFetcher(opts, {
      libp2p,
      store: deps.blobStore,
      metrics: this.metrics,
      logger: this.logger,
      penalize: (p, r) => this.penalize(p, r),
    });
    this.pubsub.addEventListener("gossipsub:message", (evt) => void this.onGossip(evt.detail));
  }

  static async init(options: Partial<P2POptions> & Pick<P2POptions, "runId">, deps: P2PNodeDeps): Promise<P2PNode> {
    const opts = resolveP2POptions(options);
    const penalties = new Map<string, number>();
    const libp2p = await createLibp2p({
      privateKey: deps.identity.libp2pKey,
      start: false,
      metrics: deps.libp2pMetrics as never,
      // "/p2p-circuit": take a reservation on a relay once connected to one (circuit relay v2 transport)
      addresses: {
        listen: opts.nat.useRelays ? [...opts.listen, "/p2p-circuit"] : opts.listen,
        announce: opts.announce,
      },
      transports: [tcp(), circuitRelayTransport()],
      connectionEncrypters: [noise()],
      // a whole update payload fits one yamux window: no WINDOW_UPDATE round trip per 256 KiB (the default),
      // which on a WAN link caps a stream at window/RTT (256 KiB at 100 ms ≈ 2.5 MB/s)
      streamMuxers: [
        yamux({
          streamOptions: {
            initialStreamWindowSize: opts.streamWindowBytes,
            maxStreamWindowSize: Math.max(opts.streamWindowBytes, 16 * 1024 * 1024),
          },
        }),
      ],
      connectionManager: { maxConnections: opts.maxConnections },
      peerDiscovery: opts.bootstrap.length > 0 ? [bootstrap({ list: opts.bootstrap })] : [],
      services: {
        identify: identify(),
        ping: ping(),
        ...natServices(opts),
        pubsub: gossipsub({
          // the signature binds each message to the author's key, hence to its Ethereum address
          globalSignaturePolicy: StrictSign,
          // validation awaits the registry (chain) lookup: report results via reportMessageValidationResult
          asyncValidation: true,
          // our own publishes come back through the same handler so they enter the catch-up log
          emitSelf: true,
          // the first node of a run publishes before anyone subscribed; that is not an error
          allowPublishToZeroTopicPeers: true,
          heartbeatInterval: opts.heartbeatIntervalMs,
          scoreParams: cotrainPeerScoreParams(opts.runId, (p) => -(penalties.get(p) ?? 0)),
          scoreThresholds: cotrainScoreThresholds,
          // messages are capped by maxGossipBytes; a 4 MiB RPC frame stays gossipsub's hard limit
          maxInboundDataLength: 4 * 1024 * 1024,
          // a peer behind NAT may be reachable only through a relay (a "limited" connection)
          runOnLimitedConnection: true,
        }),
      },
    });
    return new P2PNode(opts, deps, libp2p as unknown as Libp2p<{ pubsub: GossipSub }>, penalties);
  }

  get peerId(): PeerId {
    return this.libp2p.peerId;
  }

  get multiaddrs(): Multiaddr[] {
    return this.libp2p.getMultiaddrs();
  }

  /**
   * The addresses this node publishes on chain: public and relayed ones; private/loopback only when
   * `allowPrivateAddresses` (dev chains). See `advertisableAddrs`.
   */
  advertisedAddrs(): Multiaddr[] {
    return advertisableAddrs(this.libp2p.getMultiaddrs(), this.opts);
  }

  /**
   * `advertisedAddrs()` once there is one, waiting at most `timeoutMs` (a node behind NAT has none until
   * its relay reservation is made); [] after the deadline.
   */
  async waitForAdvertisedAddrs(timeoutMs: number): Promise<Multiaddr[]> {
    const now = this.advertisedAddrs();
    if (now.length > 0) return now;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.libp2p.removeEventListener("self:peer:update", onUpdate);
        resolve(this.advertisedAddrs());
      };
      const onUpdate = () => {
        if (this.advertisedAddrs().length > 0) done();
      };
      const timer = setTimeout(done, timeoutMs);
      this.libp2p.addEventListener("self:peer:update", onUpdate);
    });
  }

  /** The circuit relay v2 server when this node serves as a relay (`nat.relay`), else undefined. */
  get relay(): CircuitRelayService | undefined {
    return (this.libp2p.services as { relay?: CircuitRelayService }).relay;
  }

  /** Open connections: direct, or relayed (limited by the relay's data/duration limits). */
  connectionCounts(): { direct: number; relayed: number } {
    let relayed = 0;
    const conns = this.libp2p.getConnections();
    for (const c of conns) if (c.limits !== undefined) relayed++;
    return { direct: conns.length - relayed, relayed };
  }

  private get pubsub(): GossipSubService {
    return this.libp2p.services.pubsub as GossipSubService;
  }

  async start(): Promise<void> {
    try {
      await this.libp2p.start();
    } catch (err) {
      // libp2p's message lists every address that failed; the operator needs the one port that is busy.
      await Promise.resolve(this.libp2p.stop()).catch(() => {});
      throw listenErrorOf(err) ?? err;
    }
    const timeoutMs = this.opts.blobAttemptTimeoutMs;
    const registeredAddress = (p: PeerId) => this.registration.registeredAddress(p);
    await handleBlobRequests(
      this.libp2p,
      this.deps.blobStore,
      { registeredAddress, limiter: this.blobLimiter },
      { maxBytes: this.opts.blobMaxBytes, timeoutMs },
      this.metrics,
    );
    await handleSyncRequests(
      this.libp2p,
      this.opts.runId,
      this.log,
      { registeredAddress, limiter: this.syncLimiter },
      { ...this.syncLimits(), timeoutMs },
      this.metrics,
    );
    for (const topic of this.kindByTopic.keys()) this.pubsub.subscribe(topic);
  }

  async stop(): Promise<void> {
    await this.libp2p.stop();
  }

  /** Dials a peer (a multiaddr with /p2p/<id>); the connection also carries gossip. */
  async dial(addr: Multiaddr | string): Promise<void> {
    await this.libp2p.dial(typeof addr === "string" ? multiaddr(addr) : addr);
  }

  /** Gossipsub score of a peer as this node sees it (tests and `cotrain doctor`). */
  getScore(peerId: PeerId | string): number {
    return this.pubsub.getScore(peerId.toString());
  }

  getMeshPeers(kind: TopicKind): string[] {
    return this.pubsub.getMeshPeers(topicName(this.opts.runId, kind));
  }

  onAnnouncement(handler: Handler<UpdateAnnouncement>): () => void {
    this.handlers.updates.add(handler);
    return () => this.handlers.updates.delete(handler);
  }

  /** Called once per author and round when an author is proven to have signed two different updates. */
  onEquivocation(handler: (e: Equivocation) => void): () => void {
    this.equivocationHandlers.add(handler);
    return () => this.equivocationHandlers.delete(handler);
  }

  /** The equivocation proofs of `round` kept (both signed envelopes each), for `cotrain doctor` and audits. */
  equivocations(round: number): Equivocation[] {
    return this.equivocationRecord.of(round);
  }

  onCheckpoint(handler: Handler<CheckpointAnnouncement>): () => void {
    this.handlers.checkpoints.add(handler);
    return () => this.handlers.checkpoints.delete(handler);
  }

  onStatus(handler: Handler<StatusHeartbeat>): () => void {
    this.handlers.status.add(handler);
    return () => this.handlers.status.delete(handler);
  }

  /** Publishes an update announcement; runId and our dialable multiaddrs are filled in. */
  async publishUpdate(ann: PublishFields<UpdateAnnouncement>): Promise<void> {
    const msg: UpdateAnnouncement = {
      ...ann,
      runId: this.opts.runId,
      multiaddrs: ann.multiaddrs ?? this.announceAddrs(),
    };
    await this.publish("updates", UpdateAnnouncement.encode(msg));
  }

  async publishCheckpoint(ann: PublishFields<CheckpointAnnouncement>): Promise<void> {
    const msg: CheckpointAnnouncement = {
      ...ann,
      runId: this.opts.runId,
      multiaddrs: ann.multiaddrs ?? this.announceAddrs(),
    };
    await this.publish("checkpoints", CheckpointAnnouncement.encode(msg));
  }

  async publishStatus(status: Omit<StatusHeartbeat, "runId">): Promise<void> {
    await this.publish("status", StatusHeartbeat.encode({ ...status, runId: this.opts.runId }));
  }

  /** Fetches a blob by sha256 (hex or bytes) from the given providers, then known ones, then connected peers. */
  fetchBlob(hash: string | Uint8Array, opts?: FetchBlobOptions): Promise<Uint8Array> {
    return this.blobs.fetch(hash, opts);
  }

  /**
   * The payload of an accepted announcement: inline bytes (already hash-checked) or fetched by hash.
   * The declared size is checked against the model's bound again here, before any request: gossip
   * validation already refused larger ones, but an announcement may reach us by another path.
   */
  async fetchPayload(
    ann: UpdateAnnouncement | CheckpointAnnouncement,
    from?: GossipSender,
    opts: Pick<FetchBlobOptions, "deadlineMs"> = {},
  ): Promise<Uint8Array> {
    if ("inlinePayload" in ann && ann.inlinePayload !== undefined) return ann.inlinePayload;
    const bound = this.validator.payloadBound("modelHash" in ann ? "checkpoints" : "updates");
    if (ann.payloadBytes > bound) {
      this.metrics?.refusals.inc({ resource: "blob_fetch", reason: "too_large" });
      throw new BlobError("TOO_LARGE", `announced payload of ${ann.payloadBytes} B exceeds the ${bound}-byte bound`);
    }
    return this.blobs.fetch(ann.payloadHash, {
      providers: from ? [from.peerId] : [],
      maxBytes: ann.payloadBytes,
      deadlineMs: opts.deadlineMs,
    });
  }

  /**
   * Application-level penalty (gossipsub P5, weight 1): for faults found after a message was accepted,
   * e.g. an update whose payload does not decode, or a provider serving bytes with another hash.
   */
  penalize(peerId: PeerId | string, reason: string, points = 10): void {
    const id = peerId.toString();
    this.penalties.set(id, (this.penalties.get(id) ?? 0) + points);
    this.metrics?.penalties.inc({ reason });
    this.logger?.debug({ peer: id, reason, points }, "penalized peer");
  }

  /**
   * Catch-up after a restart or a late join: asks registered connected peers (at most `syncFanout`, in
   * parallel, under one `syncTimeoutMs` deadline for all of them) for the signed announcements of rounds
   * [fromRound, toRound], verifies each author's signature, validates them like live gossip and delivers
   * the new ones to the handlers (which then fetch payloads by hash). Returns how many were delivered.
   * Unregistered peers are never asked: a silent outsider cannot stall us, a silent participant only
   * until the deadline, and every response is cut at `syncMaxMessages` / `syncMaxBytes`.
   */
  async syncAnnouncements(
    fromRound: number,
    toRound: number,
    peers: PeerId[] = this.libp2p.getPeers(),
  ): Promise<number> {
    const signal = AbortSignal.timeout(this.opts.syncTimeoutMs);
    const registered = await Promise.all(
      peers.map(async (p) => ((await this.registration.registeredAddress(p).catch(() => null)) === null ? null : p)),
    );
    const targets = shuffle(registered.filter((p): p is PeerId => p !== null)).slice(0, this.opts.syncFanout);
    let delivered = 0;
    await Promise.all(
      targets.map(async (peer) => {
        let res: SyncResult;
        try {
          res = await requestAnnouncements(
            this.libp2p,
            peer,
            { runId: this.opts.runId, fromRound, toRound },
            {
              ...this.syncLimits(),
              signal,
              skip: (m) => this.log.has(m),
              onMessage: async (msg) => {
                const kind = this.kindByTopic.get(msg.topic);
                if (kind === undefined || kind === "status" || (msg.type === "signed" && msg.from.equals(this.peerId)))
                  return;
                const outcome = await this.validateAndDeliver(kind, msg, { pastRounds: this.opts.syncRetainRounds });
                if (outcome.result === TopicValidatorResult.Accept) delivered++;
              },
            },
          );
        } catch (err) {
          this.metrics?.syncRequests.inc({ result: signal.aborted ? "timeout" : "error" });
          this.logger?.debug({ peer: peer.toString(), err: (err as Error).message }, "announcement sync failed");
          return;
        }
        if (res.badSignature) this.penalize(peer, "sync_bad_signature");
        if (res.truncated) {
          this.metrics?.refusals.inc({ resource: "sync_response", reason: "too_large" });
          this.penalize(peer, "sync_oversized");
        }
        this.metrics?.syncRequests.inc({ result: res.truncated || res.badSignature ? "cut" : "ok" });
      }),
    );
    return delivered;
  }

  private syncLimits() {
    return {
      maxMessages: this.opts.syncMaxMessages,
      maxBytes: this.opts.syncMaxBytes,
      maxMessageBytes: this.opts.maxGossipBytes,
    };
  }

  private async publish(kind: TopicKind, data: Uint8Array): Promise<void> {
    await this.pubsub.publish(topicName(this.opts.runId, kind), data);
    this.metrics?.gossipPublished.inc({ topic: kind });
  }

  private announceAddrs(): Uint8Array<ArrayBuffer>[] {
    return this.libp2p
      .getMultiaddrs()
      .slice(0, 8)
      .map((ma) => new Uint8Array(ma.decapsulateCode(421).bytes)); // 421 = /p2p: the PeerId is known from the signature
  }

  private async onGossip({ msgId, propagationSource, msg }: GossipsubMessage): Promise<void> {
    const kind = this.kindByTopic.get(msg.topic);
    if (kind === undefined) return;
    if (propagationSource.equals(this.peerId)) {
      // our own publish (emitSelf): keep it for catch-up and the equivocation record, deliver nothing
      await this.validateAndDeliver(kind, msg, { deliver: false });
      return;
    }
    const outcome = await this.validateAndDeliver(kind, msg, { propagationSource });
    this.pubsub.reportMessageValidationResult(msgId, propagationSource.toString(), outcome.result);
  }

  /**
   * A second, different, validly signed update of an author for a round it already announced: keep both
   * envelopes as proof, penalise the author (whoever relayed it; the signature is the author's) and tell
   * the inbox, which excludes the author from the round. Once per author and round.
   */
  private recordEquivocation(msg: Message): void {
    if (msg.type !== "signed") return;
    const round = UpdateAnnouncement.decode(msg.data, { limits: { multiaddrs: 8 } }).round;
    const first = this.log.find(round, msg.from.toString(), msg.topic);
    const address = addressFromPeerId(msg.from);
    if (first === undefined || address === null) return;
    const e: Equivocation = { round, author: { peerId: msg.from, address }, envelopes: [first, toSignedGossip(msg)] };
    if (!this.equivocationRecord.add(e)) return;
    this.penalize(msg.from, "equivocation", EQUIVOCATION_PENALTY);
    this.logger?.warn({ round, author: address }, "author signed two different updates for one round");
    for (const h of this.equivocationHandlers) {
      try {
        h(e);
      } catch (err) {
        this.logger?.warn({ err: (err as Error).message }, "equivocation handler threw");
      }
    }
  }

  /** Validates, records and delivers one message; metrics per topic kind and result. */
  private async validateAndDeliver(
    kind: TopicKind,
    msg: Message,
    ctx: { deliver?: boolean; propagationSource?: PeerId; pastRounds?: number } = {},
  ): Promise<ValidationOutcome> {
    let v: ValidatedGossip;
    try {
      v = await this.validator.validate(kind, msg, ctx.propagationSource, ctx.pastRounds);
    } catch (err) {
      if (kind === "updates" && err instanceof GossipValidationError && err.code === "EQUIVOCATION")
        this.recordEquivocation(msg);
      const outcome = toValidationOutcome(err);
      this.metrics?.gossipValidation.inc({ topic: kind, result: outcome.result, reason: outcome.reason });
      this.logger?.debug({ topic: kind, reason: outcome.reason, err: (err as Error).message }, "gossip not accepted");
      return outcome;
    }
    const accepted = toValidationOutcome(null);
    this.metrics?.gossipValidation.inc({ topic: kind, result: accepted.result, reason: accepted.reason });
    const d = v.decoded;
    if (d.kind !== "status") {
      if (msg.type === "signed") this.log.add(d.message.round, msg);
      this.blobs.addProvider(
        bytesToHex(d.message.payloadHash),
        v.from.peerId,
        this.opts.dialAnnouncer ? d.message.multiaddrs : [],
      );
    }
    if (ctx.deliver === false) return accepted;
    for (const h of this.handlers[d.kind] as Set<Handler<typeof d.message>>) {
      try {
        h(d.message, v.from);
      } catch (err) {
        this.logger?.warn({ topic: kind, err: (err as Error).message }, "gossip handler threw");
      }
    }
    return accepted;
  }
}

/** Gossipsub P5 points for a proven equivocation: with one P4 reject on top, the author is graylisted (-80). */
const EQUIVOCATION_PENALTY = 80;

/** Fisher–Yates: which registered peers a sync asks must not be predictable (a sybil would sit first). */
function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/** Creates and starts a node. */
export async function createP2PNode(
  options: Partial<P2POptions> & Pick<P2POptions, "runId">,
  deps: P2PNodeDeps,
): Promise<P2PNode> {
  const node = await P2PNode.init(options, deps);
  await node.start();
  return node;
}
