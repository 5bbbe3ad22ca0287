import type { PeerId } from "@libp2p/interface";
import type { Logger } from "pino";
import { type Hash32, bytesToHex, parseHash32 } from "../hash/index.ts";
import type { GossipSender, P2PNode, UpdateAnnouncement } from "../p2p/index.ts";
import {
  type DecodeOptions,
  type SparseUpdate,
  type TensorSpec,
  type WarmupSettings,
  decodeUpdate,
  roundCompression,
} from "../sparseloco/index.ts";
import type { BlobRepository } from "../store/index.ts";
import type { Announcement } from "./announcement.ts";

/** An announcement as received: who sent it and when (arrival order decides copy precedence). */
export interface Received {
  round: number;
  address: string;
  peerId: PeerId;
  ann: UpdateAnnouncement;
  receivedAt: number;
}

/** An update that was fetched and decoded (once: scoring and the outer step share the decoded form). */
export interface Gathered extends Received {
  payloadHash: Hash32;
  bytes: Uint8Array;
  update: SparseUpdate;
}

/** Why an announced update was left out. */
export interface Dropped {
  address: string;
  reason: "fetch_failed" | "decode_failed" | "wrong_base";
  detail: string;
}

export interface InboxOptions {
  runId: string;
  /**
   * The run's decode settings (topk, targetChunk, EF warm-up rounds): a payload in another layout than
   * its round's does not decode, and none larger than its round's largest valid encoding is parsed.
   */
  decode: DecodeOptions & WarmupSettings;
}

export interface InboxDependencies {
  p2p: Pick<P2PNode, "onAnnouncement" | "onEquivocation" | "syncAnnouncements" | "fetchPayload" | "penalize">;
  blobs: Pick<BlobRepository, "get" | "put">;
  specs: readonly TensorSpec[];
  /** This node: its own announcement is never echoed back by gossip, so it is added here directly. */
  self: { address: string; peerId: PeerId };
  logger: Logger;
}

/**
 * The round's update announcements (DESIGN step 4-5): filled from gossip as it arrives, then `collect`
 * fetches each wanted payload by hash (inline, from the announcer, or from any peer that has it),
 * decodes it with limits and checks it was built on the expected base model.
 */
export class UpdateInbox {
  private readonly rounds = new Map<number, Map<string, Received>>();
  /** Authors proven (node/p2p keeps both signed envelopes) to have announced two different updates. */
  private readonly equivocating = new Map<number, Set<string>>();

  constructor(
    private readonly opts: InboxOptions,
    private readonly deps: InboxDependencies,
  ) {
    deps.p2p.onAnnouncement((ann, from) => this.add(ann, from));
    deps.p2p.onEquivocation((e) => {
      const set = this.equivocating.get(e.round) ?? new Set<string>();
      set.add(e.author.address.toLowerCase());
      this.equivocating.set(e.round, set);
    });
  }

  /**
   * Authors of `round` who signed two different announcements: excluded from the round's outer step
   * (whichever version we kept) and scored "equivocation" by validators.
   */
  equivocators(round: number): ReadonlySet<string> {
    return this.equivocating.get(round) ?? new Set();
  }

  add(ann: UpdateAnnouncement, from: GossipSender): void {
    const address = from.address.toLowerCase();
    let byPeer = this.rounds.get(ann.round);
    if (!byPeer) {
      byPeer = new Map();
      this.rounds.set(ann.round, byPeer);
    }
    // First one wins; gossip validation already rejects a second, different announcement.
    if (!byPeer.has(address))
      byPeer.set(address, { round: ann.round, address, peerId: from.peerId, ann, receivedAt: Date.now() });
  }

  /** This node's own announcement (what it published, or its re-creation after a restart). */
  addOwn(ann: Announcement): void {
    this.add({ runId: this.opts.runId, multiaddrs: [], ...ann }, this.deps.self);
  }

  /**
   * Asks connected peers for the signed announcements of rounds [from, to] (node/p2p sync protocol):
   * gossip published while this node was restarting, or before the mesh formed, is not delivered again.
   */
  async sync(from: number, to = from): Promise<void> {
    await this.deps.p2p
      .syncAnnouncements(Math.max(0, from), to)
      .catch((err) => this.deps.logger.debug({ err: String(err) }, "announcement sync failed"));
  }

  /** Announcements of `round` in arrival order. */
  received(round: number): Received[] {
    return [...(this.rounds.get(round)?.values() ?? [])].sort((a, b) => a.receivedAt - b.receivedAt);
  }

  /** Forgets rounds before `round` (their updates stay in the blob store for replay). */
  prune(round: number): void {
    for (const r of this.rounds.keys()) if (r < round) this.rounds.delete(r);
    for (const r of this.equivocating.keys()) if (r < round) this.equivocating.delete(r);
  }

  /**
   * Fetches and decodes the announced updates of `round` from the `wanted` addresses (all when null).
   * `baseHash` is H(θ_round): an update built on another model is dropped as wrong_base (null keeps
   * it: the validator scores it out of sync). Every fetch, retries included, stops at `deadlineMs`
   * (Date.now() ms): an unserved payload is dropped as fetch_failed then, not fetched on in the background.
   */
  async collect(
    round: number,
    wanted: ReadonlySet<string> | null,
    baseHash: Hash32 | null,
    deadlineMs: number,
  ): Promise<{ gathered: Gathered[]; dropped: Dropped[] }> {
    const list = this.received(round).filter((r) => wanted === null || wanted.has(r.address));
    const gathered: Gathered[] = [];
    const dropped: Dropped[] = [];
    await Promise.all(
      list.map(async (r) => {
        let payloadHash: Hash32;
        let bytes: Uint8Array;
        try {
          payloadHash = parseHash32(r.ann.payloadHash, "announcement payloadHash");
          bytes =
            (await this.deps.blobs.get(payloadHash)) ??
            (await withTimeout(this.deps.p2p.fetchPayload(r.ann, r, { deadlineMs }), deadlineMs - Date.now()));
          await this.deps.blobs.put(bytes, { kind: "update", round, peer: r.address }, payloadHash);
        } catch (err) {
          dropped.push({ address: r.address, reason: "fetch_failed", detail: String((err as Error).message ?? err) });
          return;
        }
        const base = bytesToHex(r.ann.baseModelHash);
        if (baseHash !== null && base !== baseHash) {
          dropped.push({ address: r.address, reason: "wrong_base", detail: `built on ${base.slice(0, 16)}…` });
          return;
        }
        try {
          const update = decodeUpdate(bytes, this.deps.specs, roundCompression(this.opts.decode, round));
          gathered.push({ ...r, payloadHash, bytes, update });
        } catch (err) {
          // Accepted on gossip, but the payload is garbage: lower the sender's score (gossipsub P5).
          this.deps.p2p.penalize(r.peerId, "bad_payload");
          dropped.push({ address: r.address, reason: "decode_failed", detail: String((err as Error).message ?? err) });
        }
      }),
    );
    gathered.sort((a, b) => a.receivedAt - b.receivedAt);
    return { gathered, dropped };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(
      () => reject(new Error(`not fetched by the round's deadline (${Math.round(ms)} ms)`)),
      Math.max(0, ms),
    );
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
