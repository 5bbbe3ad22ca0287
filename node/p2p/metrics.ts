import { Counter, Gauge, type Registry } from "prom-client";

/** Values read from the live node at scrape time. */
export interface P2PMetricSources {
  connections(): { direct: number; relayed: number };
  /** Reservations held for others by this node's circuit relay server, or null when it serves none. */
  relayReservations(): number | null;
}

/** prom-client metrics of the p2p module (names: cotrain_p2p_<name>_{total,bytes}). */
export function createP2PMetrics(registry: Registry, sources?: P2PMetricSources) {
  return {
    gossipValidation: new Counter({
      name: "cotrain_p2p_gossip_validation_total",
      help: "Gossip messages validated, by topic kind, result (accept|ignore|reject) and reason code",
      labelNames: ["topic", "result", "reason"] as const,
      registers: [registry],
    }),
    gossipPublished: new Counter({
      name: "cotrain_p2p_gossip_published_total",
      help: "Gossip messages published by this node, by topic kind",
      labelNames: ["topic"] as const,
      registers: [registry],
    }),
    blobServedBytes: new Counter({
      name: "cotrain_p2p_blob_served_bytes_total",
      help: "Blob body bytes sent to other peers",
      registers: [registry],
    }),
    blobFetchedBytes: new Counter({
      name: "cotrain_p2p_blob_fetched_bytes_total",
      help: "Verified blob bytes fetched from other peers",
      registers: [registry],
    }),
    blobFetch: new Counter({
      name: "cotrain_p2p_blob_fetch_attempts_total",
      help: "Blob fetch attempts per provider, by result (ok or a BlobError code)",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    refusals: new Counter({
      name: "cotrain_p2p_refusals_total",
      help: "Requests and data refused by a resource bound, by resource (blob_serve, sync_serve, blob_fetch, sync_response, status, dial) and reason",
      labelNames: ["resource", "reason"] as const,
      registers: [registry],
    }),
    activeStreams: new Gauge({
      name: "cotrain_p2p_active_streams",
      help: "Inbound protocol streams being served now, by protocol (blob, sync)",
      labelNames: ["protocol"] as const,
      registers: [registry],
    }),
    registryLookups: new Counter({
      name: "cotrain_p2p_registry_lookups_total",
      help: "Registration checks of a sender or requester: negative_hit (cached 'not registered'), shared (joined an in-flight lookup), lookup (asked the registry)",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    syncRequests: new Counter({
      name: "cotrain_p2p_sync_requests_total",
      help: "Announcement sync requests this node sent, by result (ok, truncated, timeout, error)",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    penalties: new Counter({
      name: "cotrain_p2p_app_penalties_total",
      help: "Application penalties applied to peers (gossipsub P5), by reason",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    connections: new Gauge({
      name: "cotrain_p2p_connections",
      help: "Open libp2p connections, by kind: direct, or relayed (through a circuit relay, limited)",
      labelNames: ["kind"] as const,
      registers: [registry],
      collect() {
        const c = sources?.connections();
        if (c === undefined) return;
        this.set({ kind: "direct" }, c.direct);
        this.set({ kind: "relayed" }, c.relayed);
      },
    }),
    relayReservations: new Gauge({
      name: "cotrain_p2p_relay_reservations",
      help: "Circuit relay reservations this node holds for others now (--relay; capped by maxReservations)",
      registers: [registry],
      collect() {
        const n = sources?.relayReservations();
        if (n !== undefined && n !== null) this.set(n);
      },
    }),
  };
}

export type P2PMetrics = ReturnType<typeof createP2PMetrics>;
