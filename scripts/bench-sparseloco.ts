/**
 * SparseLoCo speed benchmark (issue 3). Prints JSON lines:
 *   compress of one [rows, 1024] fp32 tensor (the PyTorch reference's shape), best of --repeat;
 *   wire codec: protons encode/decode vs a fixed binary layout (the measurement behind choosing protons);
 *   decode + aggregate of --peers peers' updates;
 *   the PyTorch reference (/work/shared/bench/sparseloco_ref.py, 1 thread) and the speed ratio, unless --no-ref.
 * Usage: npm run bench:sparseloco -- --params 10000000 [--repeat 7] [--peers 20] [--no-ref]
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import {
  type SparseUpdate,
  aggregate,
  compressTensor,
  decodeUpdate,
  encodeUpdate,
  type TensorSpec,
} from "../node/sparseloco/index.ts";
import { pack12, pack2 } from "../node/sparseloco/pack.ts";
import { prng } from "../tests/fixtures/prng.ts";

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const params = arg("params", 10_000_000);
const repeat = arg("repeat", 7);
const peers = arg("peers", 20);
const runRef = !process.argv.includes("--no-ref");
const REF = process.env.SPARSELOCO_REF ?? "/work/shared/bench/sparseloco_ref.py";

const cols = 1024;
const rows = Math.max(64, Math.floor(params / cols / 64) * 64);
const n = rows * cols;
const spec: TensorSpec = { name: "w", shape: [rows, cols] };

/** Seeded normal(0, 1e-3) deltas (mulberry32 + Box-Muller), like the reference's randn * 1e-3. */
function randomDelta(seed: number): Float32Array {
  const rnd = prng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * 1e-3;
    const th = 2 * Math.PI * rnd();
    out[i] = r * Math.cos(th);
    if (i + 1 < n) out[i + 1] = r * Math.sin(th);
  }
  return out;
}

function bestOf(times: number, fn: () => void): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < times; i++) {
    const t = performance.now();
    fn();
    best = Math.min(best, (performance.now() - t) / 1000);
  }
  return best;
}

const round = (x: number, d = 4) => Number(x.toFixed(d));

// --- compress ---
const delta = randomDelta(1);
const ef = new Float32Array(n);
let last = compressTensor(delta, ef, spec); // warm-up (JIT)
const timeCompress = () =>
  bestOf(repeat, () => {
    last = compressTensor(delta, ef, spec);
  });
let compressSeconds = timeCompress();
const wire = encodeUpdate([last]);

// --- wire codec: protons vs a fixed layout (name, dims, k, table, then the two packed arrays) ---
function encodeFixed(u: SparseUpdate): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const t of u.values()) {
    const idx = pack12(t.indices);
    const codes = pack2(t.codes);
    const name = new TextEncoder().encode(t.name);
    const head = new DataView(new ArrayBuffer(2 + 4 * 5 + 16));
    head.setUint16(0, name.length, true);
    const dims = [t.shape[0], t.shape[1] ?? 0, t.chunkGrid[0], t.chunkGrid[1] ?? 0, t.k];
    for (let i = 0; i < dims.length; i++) head.setUint32(2 + 4 * i, dims[i], true);
    for (let b = 0; b < 4; b++) head.setFloat32(22 + 4 * b, t.table[b], true);
    parts.push(name, new Uint8Array(head.buffer), idx, codes);
  }
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
const one: SparseUpdate = new Map([[spec.name, last]]);
const protonsEncode = bestOf(repeat, () => encodeUpdate(one));
const fixedEncode = bestOf(repeat, () => encodeFixed(one));
const protonsDecode = bestOf(repeat, () => decodeUpdate(wire, [spec]));
const fixedBytes = encodeFixed(one).length;

// --- decode + aggregate of `peers` updates ---
const payloads: Uint8Array[] = [];
for (let p = 0; p < peers; p++) {
  const efp = new Float32Array(n);
  payloads.push(encodeUpdate([compressTensor(randomDelta(100 + p), efp, spec)]));
}
let decodeSeconds = Number.POSITIVE_INFINITY;
let aggregateSeconds = Number.POSITIVE_INFINITY;
for (let r = 0; r < Math.max(1, Math.min(repeat, 3)); r++) {
  const t0 = performance.now();
  const byPeer = new Map<string, SparseUpdate>();
  for (let p = 0; p < payloads.length; p++)
    byPeer.set(`peer-${String(p).padStart(3, "0")}`, decodeUpdate(payloads[p], [spec]));
  const t1 = performance.now();
  aggregate(byPeer, [spec]);
  const t2 = performance.now();
  decodeSeconds = Math.min(decodeSeconds, (t1 - t0) / 1000);
  aggregateSeconds = Math.min(aggregateSeconds, (t2 - t1) / 1000);
}

// --- reference, then compress again (the machine is shared: keep the better of the two TS timings) ---
let ref: { params_per_s: number } | null = null;
let refLine = "";
if (runRef && existsSync(REF)) {
  const r = spawnSync(
    "/usr/bin/python3",
    [REF, "--params", String(params), "--threads", "1", "--repeat", String(repeat)],
    {
      encoding: "utf8",
    },
  );
  refLine = r.stdout.trim().split("\n").pop() ?? "";
  try {
    ref = JSON.parse(refLine);
  } catch {
    refLine = JSON.stringify({
      bench: "sparseloco.reference",
      error: (r.stderr || r.stdout || "no output").trim().slice(-300),
    });
  }
  compressSeconds = Math.min(compressSeconds, timeCompress());
}

console.log(
  JSON.stringify({
    bench: "sparseloco.compress",
    impl: `typescript-node${process.versions.node}`,
    params: n,
    seconds: round(compressSeconds),
    params_per_s: Math.round(n / compressSeconds),
    wire_bytes: wire.length,
    ratio_vs_fp32: round((4 * n) / wire.length, 1),
  }),
);
console.log(
  JSON.stringify({
    bench: "sparseloco.wire",
    protons_bytes: wire.length,
    fixed_bytes: fixedBytes,
    protons_encode_seconds: round(protonsEncode, 5),
    fixed_encode_seconds: round(fixedEncode, 5),
    protons_decode_validate_seconds: round(protonsDecode, 5),
  }),
);
console.log(
  JSON.stringify({
    bench: "sparseloco.decode_aggregate",
    peers,
    params: n,
    seconds: round(decodeSeconds + aggregateSeconds),
    decode_seconds: round(decodeSeconds),
    aggregate_seconds: round(aggregateSeconds),
    peer_params_per_s: Math.round((peers * n) / (decodeSeconds + aggregateSeconds)),
  }),
);
if (refLine) console.log(refLine);
if (ref) {
  console.log(
    JSON.stringify({
      bench: "sparseloco.vs_reference",
      ts_params_per_s: Math.round(n / compressSeconds),
      ref_params_per_s: ref.params_per_s,
      speedup: round(n / compressSeconds / ref.params_per_s, 2),
    }),
  );
}
