import type { Libp2p, PeerId } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import type { Logger } from "pino";
import { checkHost } from "./address-filter.ts";
import { bytesToHex, hexToBytes } from "../hash/index.ts";
import { type BlobStore, fetchBlobFrom } from "./blob.ts";
import { BlobError } from "./errors.ts";
import type { P2PMetrics } from "./metrics.ts";
import type { P2POptions } from "./options.ts";

export interface FetchBlobOptions {
  /** Tried first, in order (the announcer). */
  providers?: PeerId[];
  maxBytes?: number;
  /** Deadline for the whole fetch, all providers together. */
  timeoutMs?: number;
  /**
   * Stop retrying at this Date.now() moment even if `timeoutMs` is not spent: the round the payload is
   * for has no use for it afterwards (its gather or scoring window closed).
   */
  deadlineMs?: number;
}

interface BlobFetcherDeps {
  libp2p: Libp2p;
  store: BlobStore;
  metrics: P2PMetrics | null;
  logger?: Logger;
  penalize: (peer: PeerId, reason: string) => void;
}

type FetcherOptions = Pick<
  P2POptions,
  | "blobMaxBytes"
  | "blobTimeoutMs"
  | "blobAttemptTimeoutMs"
  | "blobRetryDelayMs"
  | "dialAnnouncer"
  | "allowPrivateAddresses"
>;

/** Hashes remembered as "who announced it"; enough for many rounds of a large run. */
const MAX_TRACKED_HASHES = 10_000;

/**
 * Finds and fetches blobs by sha256. Provider order: the caller's providers (the announcer), peers that
 * announced the same hash, then every connected peer (a peer that already fetched a payload serves it
 * from its store, so payloads also spread hop by hop). One attempt at a time, never in parallel, so
 * each receiver downloads a payload once: amplification stays near 1. Sweeps repeat until the deadline
 * because a neighbour may still be fetching the blob we need.
 */
export class BlobFetcher {
  private readonly providers = new Map<string, PeerId[]>();
  private readonly inflight = new Map<string, Promise<Uint8Array>>();

  constructor(
    private readonly opts: FetcherOptions,
    private readonly deps: BlobFetcherDeps,
  ) {}

  /** Remembers that `peer` announced `hashHex`; `addrs` (binary multiaddrs) let us dial it if not connected. */
  addProvider(hashHex: string, peer: PeerId, addrs: Uint8Array[]): void {
    const list = this.providers.get(hashHex) ?? [];
    if (!list.some((p) => p.equals(peer))) list.push(peer);
    this.providers.delete(hashHex); // re-insert: Map order doubles as recency for eviction
    this.providers.set(hashHex, list);
    if (this.providers.size > MAX_TRACKED_HASHES) this.providers.delete(this.providers.keys().next().value as string);
    if (addrs.length > 0 && !peer.equals(this.deps.libp2p.peerId)) {
      const multiaddrs = [];
      for (const a of addrs) {
        try {
          const ma = multiaddr(a);
          // a hint pointing into a private range would make us dial someone's LAN on the announcer's say-so
          const refused = checkHost(ma, this.opts);
          if (refused === null) multiaddrs.push(ma);
          else this.deps.metrics?.refusals.inc({ resource: "dial", reason: refused });
        } catch {
          // a malformed hint is not worth a penalty: the signed announcement itself was valid
          this.deps.metrics?.refusals.inc({ resource: "dial", reason: "malformed" });
        }
      }
      if (multiaddrs.length > 0) this.deps.libp2p.peerStore.merge(peer, { multiaddrs }).catch(() => {});
    }
  }

  knownProviders(hashHex: string): PeerId[] {
    return this.providers.get(hashHex) ?? [];
  }

  /** Local store first, then the network; concurrent calls for one hash share one fetch. */
  fetch(hash: string | Uint8Array, opts: FetchBlobOptions = {}): Promise<Uint8Array> {
    const hex = typeof hash === "string" ? hash.toLowerCase() : bytesToHex(hash);
    if (!/^[0-9a-f]{64}$/.test(hex)) return Promise.reject(new BlobError("BAD_HASH", `not a sha256: ${hex}`));
    let p = this.inflight.get(hex);
    if (!p) {
      p = this.fetchUncached(hex, opts).finally(() => this.inflight.delete(hex));
      this.inflight.set(hex, p);
    }
    return p;
  }

  private async fetchUncached(hex: string, opts: FetchBlobOptions): Promise<Uint8Array> {
    const local = await this.deps.store.get(hex);
    if (local !== undefined) return local;
    const hash = hexToBytes(hex);
    const maxBytes = Math.min(opts.maxBytes ?? this.opts.blobMaxBytes, this.opts.blobMaxBytes);
    const deadline = Math.min(Date.now() + (opts.timeoutMs ?? this.opts.blobTimeoutMs), opts.deadlineMs ?? Infinity);
    const { libp2p } = this.deps;
    let lastError: unknown = new BlobError("NO_PROVIDERS", `no provider for ${hex}`);
    // providers whose answer will not change within this fetch: asked once, not every sweep
    const excluded = new Set<string>();
    while (Date.now() < deadline) {
      const candidates = this.candidates(hex, opts.providers ?? []).filter((p) => !excluded.has(p.toString()));
      if (candidates.length === 0 && excluded.size > 0) break;
      for (const peer of candidates) {
        const remaining = deadline - Date.now();
        if (remaining <= 0) break;
        try {
          const data = await fetchBlobFrom(libp2p, peer, hash, {
            maxBytes,
            timeoutMs: Math.min(remaining, this.opts.blobAttemptTimeoutMs),
          });
          this.deps.metrics?.blobFetch.inc({ result: "ok" });
          this.deps.metrics?.blobFetchedBytes.inc(data.byteLength);
          await this.deps.store.put?.(hex, data); // so we serve it onward
          return data;
        } catch (err) {
          lastError = err;
          const code = err instanceof BlobError ? err.code : "DIAL";
          this.deps.metrics?.blobFetch.inc({ result: code });
          // refused before any body byte was buffered: the declared size is above what we asked for
          if (code === "TOO_LARGE" || code === "OVERSIZED")
            this.deps.metrics?.refusals.inc({ resource: "blob_fetch", reason: code.toLowerCase() });
          if (code === "HASH_MISMATCH" || code === "PROTOCOL" || code === "OVERSIZED")
            this.deps.penalize(peer, `blob_${code.toLowerCase()}`);
          // FORBIDDEN is retried: a provider whose registry has not seen our registration yet will soon
          if (["TOO_LARGE", "HASH_MISMATCH", "PROTOCOL", "OVERSIZED"].includes(code)) excluded.add(peer.toString());
          this.deps.logger?.debug(
            { peer: peer.toString(), hash: hex, code, err: String((err as Error).message ?? err) },
            "blob attempt failed",
          );
        }
      }
      await new Promise((r) => setTimeout(r, Math.min(this.opts.blobRetryDelayMs, Math.max(0, deadline - Date.now()))));
    }
    if (lastError instanceof BlobError && !["NOT_FOUND", "BUSY", "FORBIDDEN"].includes(lastError.code)) throw lastError;
    throw new BlobError("TIMEOUT", `no provider served ${hex} in time (last: ${(lastError as Error).message})`);
  }

  private candidates(hex: string, explicit: PeerId[]): PeerId[] {
    const { libp2p } = this.deps;
    const out: PeerId[] = [];
    const add = (p: PeerId) => {
      if (p.equals(libp2p.peerId) || out.some((q) => q.equals(p))) return;
      // unconnected providers are dialled only when announcer dialling is on (their addrs are in the peer store)
      if (!this.opts.dialAnnouncer && libp2p.getConnections(p).length === 0) return;
      out.push(p);
    };
    for (const p of explicit) add(p);
    for (const p of this.knownProviders(hex)) add(p);
    for (const p of libp2p.getPeers()) add(p);
    return out;
  }
}
