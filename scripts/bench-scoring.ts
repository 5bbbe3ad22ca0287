// Scoring benchmark: index overlap (merge walk) between SparseLoCo-shaped updates (k of every 4096
// coordinates) of a --params model, and detectCopies over a --peers round. Prints JSON lines.
// npm run bench:scoring -- --params 10000000 --peers 20
import { parseArgs } from "node:util";
import { detectCopies, type IndexedUpdate, indexOverlap } from "../node/scoring/index.ts";
import { prng } from "../tests/fixtures/prng.ts";

const { values } = parseArgs({
  options: {
    params: { type: "string", default: "10000000" },
    tensors: { type: "string", default: "50" },
    k: { type: "string", default: "64" },
    peers: { type: "string", default: "20" },
    reps: { type: "string", default: "20" },
  },
});
const P = Number(values.params);
const T = Number(values.tensors);
const K = Number(values.k);
const N = Number(values.peers);

// mulberry32: a small deterministic PRNG (an LCG's correlated low bits made fake "copies")
const rnd = prng(1);
function update(id: string): IndexedUpdate {
  const per = Math.ceil(P / T);
  const indices = new Map<string, Uint32Array>();
  for (let t = 0; t < T; t++) {
    const out = new Uint32Array(Math.ceil(per / 4096) * K);
    let o = 0;
    for (let c = 0; c < per; c += 4096) {
      const chosen = new Set<number>();
      const span = Math.min(4096, per - c);
      while (chosen.size < Math.min(K, span)) chosen.add(c + Math.floor(rnd() * span));
      for (const v of [...chosen].sort((a, b) => a - b)) out[o++] = v;
    }
    indices.set(`t${t}`, out.subarray(0, o));
  }
  return { id, indices };
}
const ups = Array.from({ length: N }, (_, i) => update(`0x${i}`));
let total = 0;
for (const a of ups[0].indices.values()) total += a.length;

const reps = Number(values.reps);
const times: number[] = [];
let sink = 0;
for (let r = 0; r < reps; r++) {
  const t0 = performance.now();
  sink += indexOverlap(ups[0].indices, ups[1].indices);
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    bench: "scoring.indexOverlap",
    params: P,
    indices_per_update: total,
    median_ms: +times[reps >> 1].toFixed(3),
    best_ms: +times[0].toFixed(3),
    m_indices_per_s: +((2 * total) / times[reps >> 1] / 1000).toFixed(1),
    sink: +sink.toFixed(4),
  }),
);

const t0 = performance.now();
const copies = detectCopies(ups, 0.4);
const ms = performance.now() - t0;
console.log(
  JSON.stringify({
    bench: "scoring.detectCopies",
    params: P,
    peers: N,
    coordinates: N * total,
    ms: +ms.toFixed(1),
    copies: copies.size,
  }),
);
