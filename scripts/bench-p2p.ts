// Dissemination benchmark: N nodes on loopback in a sparse mesh, each publishes one update whose payload
// is fetched by every other node over /cotrain/blob/1.0.0. Prints one JSON line.
// npm run bench:p2p -- --nodes 8 --updates 8 --bytes 2700000
import "../node/polyfill.ts";
import { createHash, randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import type { Metrics, MultiaddrConnection } from "@libp2p/interface";
import { randomIdentity } from "../node/identity/index.ts";
import { type BlobStore, type P2PNode, createP2PNode } from "../node/p2p/index.ts";

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "8" },
    updates: { type: "string", default: "8" },
    bytes: { type: "string", default: "2700000" },
    degree: { type: "string", default: "2" },
    "dial-announcer": { type: "string", default: "true" },
    // round 1 includes dialling announcers; later rounds run over the connections a live network keeps
    rounds: { type: "string", default: "2" },
  },
});
const N = Number(values.nodes);
const U = Math.min(Number(values.updates), N);
const BYTES = Number(values.bytes);
const DEGREE = Number(values.degree);
// false: payloads spread hop by hop between already-connected peers, no new connections
const DIAL_ANNOUNCER = values["dial-announcer"] !== "false";
const ROUNDS = Number(values.rounds);

/** Counts every byte a node writes to its TCP connections (after noise + yamux framing). */
function byteCounter(counter: { sent: number }): () => Metrics {
  const noop = () => ({
    update() {},
    increment() {},
    decrement() {},
    reset() {},
    observe() {},
    timer: () => () => {},
  });
  return () =>
    ({
      trackMultiaddrConnection(maConn: MultiaddrConnection) {
        const send = maConn.send.bind(maConn);
        maConn.send = (data) => {
          counter.sent += data.byteLength;
          return send(data);
        };
      },
      trackProtocolStream() {},
      registerMetric: noop,
      registerMetricGroup: noop,
      registerCounter: noop,
      registerCounterGroup: noop,
      registerHistogram: noop,
      registerHistogramGroup: noop,
      registerSummary: noop,
      registerSummaryGroup: noop,
      createTrace: () => undefined,
      traceFunction: <F>(_n: string, fn: F) => fn,
    }) as unknown as Metrics;
}

class MemoryStore implements BlobStore {
  readonly map = new Map<string, Uint8Array>();
  async get(h: string) {
    return this.map.get(h);
  }
  async put(h: string, d: Uint8Array) {
    this.map.set(h, d);
  }
}

const sha = (b: Uint8Array) => new Uint8Array(createHash("sha256").update(b).digest());
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

let round = 1;
const countConnections = (nodes: P2PNode[]) => nodes.reduce((s, n) => s + n.libp2p.getConnections().length, 0) / 2;

/** One round: every publisher announces a fresh payload; resolves when every node holds every payload. */
async function oneRound(nodes: P2PNode[], stores: MemoryStore[], counter: { sent: number }, r: number) {
  const have = nodes.map(() => new Set<string>());
  const done = { resolve: () => {}, reject: (_e: unknown) => {}, promise: Promise.resolve() };
  done.promise = new Promise<void>((resolve, reject) => Object.assign(done, { resolve, reject }));
  const expected = U * (N - 1);
  let received = 0;
  const unsubscribe = nodes.map((node, i) =>
    node.onAnnouncement((ann, from) => {
      if (ann.round !== r) return;
      node
        .fetchPayload(ann, from)
        .then(() => {
          // fetchPayload already verified sha256(data) == payloadHash
          const h = Buffer.from(ann.payloadHash).toString("hex");
          if (!have[i].has(h)) {
            have[i].add(h);
            if (++received === expected) done.resolve();
          }
        })
        .catch((err) => done.reject(err));
    }),
  );
  const payloads = Array.from({ length: U }, () => randomBytes(BYTES));
  for (let i = 0; i < U; i++) await stores[i].put(Buffer.from(sha(payloads[i])).toString("hex"), payloads[i]);
  const connectionsBefore = countConnections(nodes);
  const sentBefore = counter.sent;
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    payloads.map((p, i) =>
      nodes[i].publishUpdate({
        round: r,
        baseModelHash: sha(Buffer.from("m")),
        payloadHash: sha(p),
        payloadBytes: p.byteLength,
        dataDigest: sha(Buffer.from("d")),
      }),
    ),
  );
  const timer = setTimeout(() => done.reject(new Error(`timeout: ${received}/${expected} payloads`)), 60_000);
  await done.promise;
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  clearTimeout(timer);
  for (const u of unsubscribe) u();
  const sent = counter.sent - sentBefore;
  return {
    bench: "p2p_dissemination",
    round: r,
    nodes: N,
    updates: U,
    payload_bytes: BYTES,
    dialled_per_node: DEGREE,
    dial_announcer: DIAL_ANNOUNCER,
    connections_at_start: connectionsBefore,
    full_dissemination_s: Number(seconds.toFixed(3)),
    // all 8 nodes share this one process: CPU seconds ≈ wall seconds means the run was CPU-bound
    process_cpu_s: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)),
    bytes_sent: sent,
    amplification: Number((sent / (BYTES * U * (N - 1))).toFixed(4)),
    goal: { amplification_max: 1.5, dissemination_max_s: 3 },
  };
}

async function main() {
  const ids = Array.from({ length: N }, () => randomIdentity());
  const registered = new Set(ids.map((i) => i.address));
  const counter = { sent: 0 };
  const stores = ids.map(() => new MemoryStore());
  const nodes: P2PNode[] = [];
  for (let i = 0; i < N; i++) {
    nodes.push(
      await createP2PNode(
        {
          runId: "bench",
          listen: ["/ip4/127.0.0.1/tcp/0"],
          heartbeatIntervalMs: 200,
          dialAnnouncer: DIAL_ANNOUNCER,
          blobRetryDelayMs: 50,
        },
        {
          identity: ids[i],
          isRegistered: (a) => registered.has(a),
          currentRound: () => round,
          blobStore: stores[i],
          libp2pMetrics: byteCounter(counter),
        },
      ),
    );
  }
  // sparse mesh: node i dials i+1 .. i+DEGREE (a ring with chords), not everyone
  for (let i = 0; i < N; i++) for (let d = 1; d <= DEGREE; d++) await nodes[i].dial(nodes[(i + d) % N].multiaddrs[0]);
  const t0 = Date.now();
  while (nodes.some((n) => n.getMeshPeers("updates").length < Math.min(2, N - 1))) {
    if (Date.now() - t0 > 15_000) throw new Error("mesh did not form");
    await wait(50);
  }
  await wait(500); // let identify and subscriptions settle so setup traffic is not counted
  for (let r = 1; r <= ROUNDS; r++) {
    round = r;
    console.log(
      JSON.stringify({ ...(await oneRound(nodes, stores, counter, r)), connections_at_end: countConnections(nodes) }),
    );
  }
  for (const n of nodes) await n.stop();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
