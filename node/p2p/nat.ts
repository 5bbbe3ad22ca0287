import { autoNAT } from "@libp2p/autonat";
import { circuitRelayServer } from "@libp2p/circuit-relay-v2";
import { dcutr } from "@libp2p/dcutr";
import type { P2POptions } from "./options.ts";

/**
 * AutoNAT, DCUtR and (with `--relay`) the circuit relay v2 server, as js-libp2p services. The relay's
 * limits are what strangers may cost us: reservations, their lifetime, and bytes and time per relayed
 * connection (RelayServerLimits).
 */
export function natServices(opts: P2POptions): Record<string, (components: never) => unknown> {
  const services: Record<string, (components: never) => unknown> = {};
  if (opts.nat.autoNAT) services.autoNAT = autoNAT();
  if (opts.nat.holePunch) services.dcutr = dcutr();
  const r = opts.nat.relay;
  if (r !== null)
    services.relay = circuitRelayServer({
      maxInboundHopStreams: r.maxInboundHopStreams,
      reservations: {
        maxReservations: r.maxReservations,
        reservationTtl: r.reservationTtlMs,
        applyDefaultLimit: true,
        defaultDurationLimit: r.durationLimitMs,
        defaultDataLimit: BigInt(r.dataLimitBytes),
      },
    });
  return services;
}
