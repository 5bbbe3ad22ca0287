import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export type Role = "peer" | "validator" | "explorer" | "testnet";

/** Round phases (DESIGN.md "A round, end to end"); the histogram's `phase` label. */
export type Phase =
  | "train"
  | "compress"
  | "publish"
  | "gather"
  | "aggregate"
  | "score"
  | "chain"
  | "catchup"
  | "checkpoint";

/**
 * Every metric a cotrain process exposes. Names follow Prometheus / Lodestar rules: `cotrain_` prefix,
 * unit suffix (`_seconds`, `_bytes`, `_total`), time in seconds. Label values must be bounded sets
 * (phases, topics, reasons, registered addresses) — never raw network data.
 */
export interface Metrics {
  registry: Registry;
  /** The round this node is in (peers: training; validators: scoring). */
  round: Gauge<never>;
  /** Last measured loss, by kind: "train" (end of inner steps), "heldout" (validator, θ_r). */
  loss: Gauge<"kind">;
  /** Training throughput of the last inner loop. */
  tokensPerSecond: Gauge<never>;
  tokensTotal: Counter<never>;
  /** Payload bytes over libp2p by direction ("in" | "out") and protocol ("gossip" | "blob"). */
  networkBytes: Counter<"direction" | "protocol">;
  /** Updates applied in the last outer step. */
  updatesGathered: Gauge<never>;
  /** Scored updates by outcome (ScoreComponents.reason). */
  scoreOutcomes: Counter<"reason">;
  /** Send-to-receipt latency of contract transactions by method. */
  chainTxSeconds: Histogram<"method">;
  /** Duration of each round phase. */
  phaseSeconds: Histogram<"phase">;
}

/** A fresh registry with every metric registered and `role` as a default label. */
export function createMetrics(role: Role, opts: { collectDefault?: boolean } = {}): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  if (opts.collectDefault ?? true) collectDefaultMetrics({ register: registry, prefix: "cotrain_" });
  const registers = [registry];
  return {
    registry,
    round: new Gauge({ name: "cotrain_round", help: "Current round", registers }),
    loss: new Gauge({
      name: "cotrain_loss",
      help: "Last measured cross-entropy loss by kind",
      labelNames: ["kind"],
      registers,
    }),
    tokensPerSecond: new Gauge({
      name: "cotrain_tokens_per_second",
      help: "Training tokens per second in the last inner loop",
      registers,
    }),
    tokensTotal: new Counter({ name: "cotrain_tokens_total", help: "Training tokens processed", registers }),
    networkBytes: new Counter({
      name: "cotrain_network_bytes_total",
      help: "Payload bytes sent and received by protocol",
      labelNames: ["direction", "protocol"],
      registers,
    }),
    updatesGathered: new Gauge({
      name: "cotrain_updates_gathered",
      help: "Updates applied in the last outer step",
      registers,
    }),
    scoreOutcomes: new Counter({
      name: "cotrain_score_outcomes_total",
      help: "Scored updates by outcome",
      labelNames: ["reason"],
      registers,
    }),
    chainTxSeconds: new Histogram({
      name: "cotrain_chain_tx_seconds",
      help: "Contract transaction latency from send to receipt",
      labelNames: ["method"],
      // anvil mines in ms; testnets take one to a few 12 s blocks
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 12, 30, 60, 120],
      registers,
    }),
    phaseSeconds: new Histogram({
      name: "cotrain_phase_seconds",
      help: "Duration of each round phase",
      labelNames: ["phase"],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers,
    }),
  };
}
