import type { PeerId } from "@libp2p/interface";
import { LRUCache } from "lru-cache";
import { addressFromPeerId } from "../identity/index.ts";
import type { P2PMetrics } from "./metrics.ts";
import type { P2POptions } from "./options.ts";

export interface RegistrationDeps {
  /** The registry lookup (the chain in production: one or more eth_calls for an unknown address). */
  isRegistered: (address: string) => boolean | Promise<boolean>;
  metrics: P2PMetrics | null;
}

type RegistrationOptions = Pick<P2POptions, "registryNegativeTtlMs" | "registryNegativeCacheSize">;

/**
 * "Is this sender a participant?" in front of the registry lookup, for gossip validation and the
 * blob and sync servers. An outsider can send thousands of messages per second, each naming the same
 * unregistered key: a bounded, expiring negative cache turns them into one lookup per TTL, and
 * concurrent lookups of one address (a burst validated asynchronously) share one call. Positive answers
 * are not cached here: the roles' ParticipantDirectory already keeps the registered set.
 */
export class RegistrationCache {
  private readonly negative: LRUCache<string, true>;
  private readonly inflight = new Map<string, Promise<boolean>>();

  constructor(
    opts: RegistrationOptions,
    private readonly deps: RegistrationDeps,
  ) {
    this.negative = new LRUCache({ max: opts.registryNegativeCacheSize, ttl: opts.registryNegativeTtlMs });
  }

  async isRegistered(address: string): Promise<boolean> {
    const a = address.toLowerCase();
    if (this.negative.has(a)) {
      this.deps.metrics?.registryLookups.inc({ result: "negative_hit" });
      return false;
    }
    const pending = this.inflight.get(a);
    if (pending) {
      this.deps.metrics?.registryLookups.inc({ result: "shared" });
      return pending;
    }
    this.deps.metrics?.registryLookups.inc({ result: "lookup" });
    const p = (async () => {
      // a failing lookup (registry unreachable) throws to the caller and leaves no negative entry: gossip
      // validation turns it into IGNORE (our fault, not the sender's), the servers into BUSY
      try {
        const ok = await this.deps.isRegistered(address);
        if (!ok) this.negative.set(a, true);
        return ok;
      } finally {
        this.inflight.delete(a);
      }
    })();
    this.inflight.set(a, p);
    return p;
  }

  /** The Ethereum address of a registered remote peer, or null (not secp256k1, or not registered). */
  async registeredAddress(peer: PeerId): Promise<string | null> {
    const address = addressFromPeerId(peer);
    if (address === null) return null;
    return (await this.isRegistered(address)) ? address : null;
  }
}
