/** Options of the Prometheus endpoint (Lodestar's metrics/options.ts shape). */
export interface MetricsOptions {
  enabled: boolean;
  /** 0 picks a free port (tests). Each process of a local testnet needs its own. */
  port: number;
  /** Loopback by default: metrics reveal addresses and timings; expose them deliberately. */
  host: string;
  /** Node process metrics (CPU, heap, event-loop lag) from prom-client's collectDefaultMetrics. */
  collectDefault: boolean;
}

export const defaultMetricsOptions: MetricsOptions = {
  enabled: false,
  port: 9600,
  host: "127.0.0.1",
  collectDefault: true,
};
