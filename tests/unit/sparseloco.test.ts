import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import {
  type CompressedTensor,
  DiLoCoOuter,
  SparseLocoDecodeError,
  SparseLocoError,
  type SparseUpdate,
  aggregate,
  chunkLayout,
  compressTensor,
  decodeDenseUpdate,
  decodeUpdate,
  decodedNorms,
  decompressTensor,
  encodeDenseUpdate,
  encodeUpdate,
  modelHash,
  numel,
  outerStep,
  selectedCoordinates,
  type ParamMap,
  type TensorSpec,
} from "../../node/sparseloco/index.ts";
import { SHAPES, prng, randomTensor, specsOf } from "./sparseloco-helpers.ts";

/** Flat positions of chunk c's values, in chunk-local order (independent of the library's tables). */
function chunkPositions(shape: number[], c: number, topk = 64): number[] {
  const l = chunkLayout(shape, topk, 64);
  const gi = Math.floor(c / l.gridCols);
  const gj = c % l.gridCols;
  const out: number[] = [];
  for (let r = 0; r < l.chunkRows; r++)
    for (let q = 0; q < l.chunkCols; q++) out.push((gi * l.chunkRows + r) * l.cols + gj * l.chunkCols + q);
  return out;
}

function compressAll(specs: TensorSpec[], seed: number): { update: SparseUpdate; deltas: ParamMap } {
  const rnd = prng(seed);
  const update: SparseUpdate = new Map();
  const deltas: ParamMap = new Map();
  for (const s of specs) {
    const d = randomTensor(numel(s.shape), rnd);
    deltas.set(s.name, d);
    update.set(s.name, compressTensor(d, new Float32Array(d.length), s));
  }
  return { update, deltas };
}

describe("sparseloco layout", () => {
  it("cuts 2-D tensors into blocks of the largest divisors <= 64 and 1-D tensors into chunks", () => {
    const cases: [number[], number, number, number[], number][] = [
      [[128, 128], 64, 64, [2, 2], 64],
      [[96, 80], 48, 40, [2, 2], 64],
      [[100], 1, 50, [2], 50], // chunk of 50 < topk: sent dense
      [[50], 1, 50, [1], 50],
      [[97, 64], 1, 64, [97, 1], 64], // prime dimension: rows of 64
      [[4096], 1, 64, [64], 64],
    ];
    for (const [shape, cr, cc, grid, k] of cases) {
      const l = chunkLayout(shape, 64, 64);
      assert.deepEqual([l.chunkRows, l.chunkCols, [...l.grid], l.k], [cr, cc, grid, k], `shape ${shape}`);
    }
    assert.throws(() => chunkLayout([2, 3, 4], 64, 64), SparseLocoError);
    assert.throws(() => chunkLayout([0], 64, 64), SparseLocoError);
  });
});

describe("compressTensor", () => {
  it("keeps exactly the top-k |e| of every chunk, ascending, on 1-D, 2-D and non-divisible shapes", () => {
    const rnd = prng(1);
    for (const shape of SHAPES) {
      const spec = { name: "x", shape };
      const n = numel(shape);
      const delta = randomTensor(n, rnd);
      const ef = randomTensor(n, rnd);
      const e = new Float32Array(n);
      for (let i = 0; i < n; i++) e[i] = 0.95 * ef[i] + delta[i];
      const t = compressTensor(delta, ef, spec);
      const l = chunkLayout(shape, 64, 64);
      assert.equal(t.indices.length, l.numChunks * l.k);
      for (let c = 0; c < l.numChunks; c++) {
        const pos = chunkPositions(shape, c);
        const want = pos
          .map((p, local) => ({ local, a: Math.abs(e[p]) }))
          .sort((x, y) => y.a - x.a || x.local - y.local)
          .slice(0, l.k)
          .map((x) => x.local)
          .sort((x, y) => x - y);
        const got = [...t.indices.subarray(c * l.k, (c + 1) * l.k)];
        assert.deepEqual(got, want, `shape ${shape} chunk ${c}`);
      }
    }
  });

  it("keeps the exact top-k for other k (odd, small) and long 1-D tensors; odd counts round-trip", () => {
    const rnd = prng(11);
    for (const topk of [32, 7]) {
      for (const shape of [[20000], [97, 64], [256, 192], [70, 33]]) {
        const spec = { name: "x", shape };
        const n = numel(shape);
        const delta = randomTensor(n, rnd);
        const t = compressTensor(delta, new Float32Array(n), spec, { topk });
        const l = chunkLayout(shape, topk, 64);
        for (let c = 0; c < l.numChunks; c++) {
          const pos = chunkPositions(shape, c, topk);
          const want = pos
            .map((p, local) => ({ local, a: Math.abs(delta[p]) }))
            .sort((x, y) => y.a - x.a || x.local - y.local)
            .slice(0, l.k)
            .map((x) => x.local)
            .sort((x, y) => x - y);
          assert.deepEqual(
            [...t.indices.subarray(c * l.k, (c + 1) * l.k)],
            want,
            `k ${topk} shape ${shape} chunk ${c}`,
          );
        }
        const back = decodeUpdate(encodeUpdate([t]), [spec], { topk }).get("x")!;
        assert.deepEqual(back.indices, t.indices);
        assert.deepEqual(back.codes, t.codes);
        assert.throws(() => decodeUpdate(encodeUpdate([t]), [spec]), SparseLocoDecodeError); // run's k differs
      }
    }
  });

  it("stays exact when the sampled threshold estimate is too high (fallback) and on ties", () => {
    const spec = { name: "x", shape: [64, 64] };
    const delta = new Float32Array(4096).fill(1e-3);
    // The sampler reads every 16th local index: make exactly those huge, so its estimate leaves < k candidates.
    for (let i = 0; i < 4096; i += 16) delta[i] = 1 + i * 1e-6;
    delta[4095] = 5; // largest, off the sample grid
    const t = compressTensor(delta, new Float32Array(4096), spec);
    const want = [...Array(256).keys()].map((i) => i * 16).slice(256 - 63);
    assert.deepEqual(
      [...t.indices],
      [...want, 4095].sort((a, b) => a - b),
    );
    // All equal: ties go to the lowest local indices.
    const flat = compressTensor(new Float32Array(4096).fill(2e-3), new Float32Array(4096), spec);
    assert.deepEqual([...flat.indices], [...Array(64).keys()]);
    assert.ok(flat.table.every((v) => Math.abs(v - 2e-3) < 1e-9));
  });

  it("holds the error-feedback identity e_new + sent == beta*e_old + delta over several rounds", () => {
    const rnd = prng(2);
    for (const shape of [[96, 80], [100], [256, 192]]) {
      const spec = { name: "x", shape };
      const n = numel(shape);
      const ef = new Float32Array(n);
      for (let round = 0; round < 3; round++) {
        const delta = randomTensor(n, rnd);
        const old = ef.slice();
        const sent = decompressTensor(compressTensor(delta, ef, spec, { beta: 0.9 }), spec);
        for (let i = 0; i < n; i++) {
          const want = Math.fround(0.9 * old[i] + delta[i]);
          assert.ok(Math.abs(ef[i] + sent[i] - want) <= 1e-6 * Math.abs(want) + 1e-12, `shape ${shape} i ${i}`);
        }
      }
    }
  });

  it("quantizes with the Templar 2-bit rule: shift=mean, scale=6*std/4, round-half-even, bin means", () => {
    const rnd = prng(3);
    const spec = { name: "x", shape: [128, 128] };
    const delta = randomTensor(128 * 128, rnd);
    const ef = new Float32Array(delta.length);
    const e = delta.slice();
    const t = compressTensor(delta, ef, spec);
    const l = chunkLayout(spec.shape, 64, 64);
    const vals: number[] = [];
    for (let c = 0; c < l.numChunks; c++) {
      const pos = chunkPositions(spec.shape, c);
      for (let j = c * l.k; j < (c + 1) * l.k; j++) vals.push(e[pos[t.indices[j]]]);
    }
    const shift = vals.reduce((s, v) => s + v, 0) / vals.length;
    const sigma = Math.sqrt(vals.reduce((s, v) => s + (v - shift) ** 2, 0) / (vals.length - 1));
    const scale = (6 * sigma) / 4;
    const sums = [0, 0, 0, 0];
    const counts = [0, 0, 0, 0];
    vals.forEach((v, j) => {
      const code = Math.min(3, Math.max(0, Math.round((v - shift) / scale + 2)));
      assert.equal(t.codes[j], code);
      sums[code] += v - shift;
      counts[code]++;
    });
    for (let b = 0; b < 4; b++) {
      const want = Math.fround(shift + (counts[b] ? sums[b] / counts[b] : 0));
      assert.ok(Math.abs(t.table[b] - want) <= 1e-7 * Math.abs(want) + 1e-12, `table[${b}]`);
    }
  });

  it("rejects a non-finite delta and resets the error feedback", () => {
    const delta = new Float32Array(4096).fill(1e-3);
    delta[77] = Number.NaN;
    const ef = new Float32Array(4096).fill(1);
    assert.throws(
      () => compressTensor(delta, ef, { name: "x", shape: [64, 64] }),
      (e: unknown) => e instanceof SparseLocoError && e.code === "NON_FINITE_DELTA",
    );
    assert.ok(ef.every((v) => v === 0));
    assert.throws(
      () => compressTensor(new Float32Array(10), new Float32Array(10), { name: "x", shape: [11] }),
      SparseLocoError,
    );
  });
});

describe("wire codec", () => {
  const specs = specsOf(SHAPES);

  it("decode(encode(x)) == x bit-exactly, and encoding is canonical", () => {
    const { update } = compressAll(specs, 4);
    const bytes = encodeUpdate(update);
    const back = decodeUpdate(bytes, specs);
    assert.equal(back.size, update.size);
    for (const [name, t] of update) {
      const d = back.get(name)!;
      assert.deepEqual([...d.shape], [...t.shape]);
      assert.deepEqual([...d.chunkGrid], [...t.chunkGrid]);
      assert.equal(d.k, t.k);
      assert.deepEqual(d.indices, t.indices);
      assert.deepEqual(d.codes, t.codes);
      assert.deepEqual(new Uint8Array(d.table.buffer), new Uint8Array(t.table.buffer));
    }
    const reversed: SparseUpdate = new Map([...update].reverse());
    assert.deepEqual(encodeUpdate(reversed), bytes);
    assert.deepEqual(encodeUpdate(back), bytes);
  });

  it("is >= 140x smaller than fp32 at 64-of-4096 (12-bit indices + 2-bit codes + small header)", () => {
    const spec = { name: "h.0.mlp.c_fc.weight", shape: [1024, 1024] };
    const d = randomTensor(1024 * 1024, prng(5));
    const bytes = encodeUpdate([compressTensor(d, new Float32Array(d.length), spec)]);
    const kept = 256 * 64;
    assert.equal(bytes.length - (kept * 14) / 8 < 100, true, `header ${bytes.length - (kept * 14) / 8} bytes`);
    assert.ok((4 * d.length) / bytes.length >= 140, `ratio ${(4 * d.length) / bytes.length}`);
  });
});

describe("aggregate, outerStep, modelHash", () => {
  const specs = specsOf([[96, 80], [100], [128, 128]]);
  const peers = ["0xC", "0xa", "0xB", "0x1", "peer-z"];
  const updates = new Map(peers.map((p, i) => [p, compressAll(specs, 10 + i).update]));

  /** Straightforward dense re-implementation of the Templar rule, for comparison. */
  function naive(byPeer: Map<string, SparseUpdate>, reduce: "chosen" | "all" = "chosen"): ParamMap {
    const out: ParamMap = new Map();
    const order = [...byPeer.keys()].sort();
    for (const s of specs) {
      const n = numel(s.shape);
      const dense = order.map((p) => decompressTensor(byPeer.get(p)!.get(s.name)!, s));
      const chosen = order.map((p) => {
        const mask = new Uint8Array(n);
        for (const i of selectedCoordinates(byPeer.get(p)!, [s]).get(s.name)!) mask[i] = 1;
        return mask;
      });
      const norms = dense.map((d) => Math.sqrt(d.reduce((acc, v) => acc + v * v, 0)));
      const median = [...norms].sort((a, b) => a - b)[(norms.length - 1) >> 1];
      const sum = new Float64Array(n);
      const cnt = new Uint32Array(n);
      dense.forEach((d, i) => {
        const f = Math.min(1, median / (norms[i] + 1e-8));
        for (let j = 0; j < n; j++) {
          if (chosen[i][j]) {
            sum[j] += Math.fround(d[j] * f);
            cnt[j]++;
          }
        }
      });
      out.set(
        s.name,
        Float32Array.from(sum, (v, j) => (cnt[j] ? v / (reduce === "all" ? order.length : cnt[j]) : 0)),
      );
    }
    return out;
  }

  it("clips to the median norm and averages over the peers that chose each coordinate", () => {
    const got = aggregate(updates, specs);
    const want = naive(updates);
    for (const s of specs) {
      const g = got.get(s.name)!;
      const w = want.get(s.name)!;
      for (let i = 0; i < g.length; i++)
        assert.ok(Math.abs(g[i] - w[i]) <= 1e-6 * Math.abs(w[i]) + 1e-12, `${s.name}[${i}]`);
    }
  });

  it("reduce \"all\" divides each coordinate's sum by the number of peers (the paper's (1/R)·ΣΔ̂)", () => {
    const got = aggregate(updates, specs, { reduce: "all" });
    const want = naive(updates, "all");
    const chosen = aggregate(updates, specs);
    let differs = 0;
    for (const s of specs) {
      const g = got.get(s.name)!;
      const w = want.get(s.name)!;
      for (let i = 0; i < g.length; i++) {
        assert.ok(Math.abs(g[i] - w[i]) <= 1e-6 * Math.abs(w[i]) + 1e-12, `${s.name}[${i}]`);
        if (g[i] !== chosen.get(s.name)![i]) differs++;
      }
    }
    assert.ok(differs > 0, "the two reductions must differ where fewer than all peers chose a coordinate");
  });

  it("is bit-identical whatever the input order (model hash equal after the outer step)", () => {
    const base: ParamMap = new Map(specs.map((s) => [s.name, randomTensor(numel(s.shape), prng(99), 1)]));
    const hashes = new Set<string>();
    const rnd = prng(7);
    for (let trial = 0; trial < 6; trial++) {
      const order = [...peers].sort(() => rnd() - 0.5);
      const shuffled = new Map(order.map((p) => [p, updates.get(p)!]));
      const params: ParamMap = new Map([...base].map(([k, v]) => [k, v.slice()]));
      outerStep(params, aggregate(shuffled, [...specs].reverse()));
      hashes.add(modelHash(params, specs));
    }
    assert.equal(hashes.size, 1);
  });

  it("leaves out non-finite tensors and clips an outsized peer", () => {
    const s = specs[2];
    const spike: CompressedTensor = {
      ...updates.get("0x1")!.get(s.name)!,
      table: new Float32Array([-1e3, -1, 1, 1e3]),
    };
    const bad: CompressedTensor = {
      ...updates.get("0xa")!.get(s.name)!,
      table: new Float32Array([Number.NaN, 0, 0, 0]),
    };
    const byPeer = new Map([
      ["a", new Map([[s.name, updates.get("0xB")!.get(s.name)!]])],
      ["b", new Map([[s.name, updates.get("0xC")!.get(s.name)!]])],
      ["c", new Map([[s.name, spike]])],
      ["d", new Map([[s.name, bad]])],
    ]);
    const agg = aggregate(byPeer, [s]).get(s.name)!;
    assert.ok(agg.every(Number.isFinite));
    const norms = ["0xB", "0xC"].map((p) => decodedNorms(updates.get(p)!).get(s.name)!);
    const maxAbs = agg.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert.ok(maxAbs <= Math.max(...norms), `clipped peer still dominates: ${maxAbs}`);
  });

  it("outerStep updates in place; modelHash is sha256 over LE float32 in code-unit name order", () => {
    const specs2: TensorSpec[] = [
      { name: "b", shape: [2] },
      { name: "B", shape: [1] },
      { name: "a", shape: [1] },
    ];
    const params: ParamMap = new Map([
      ["b", new Float32Array([1, 2])],
      ["B", new Float32Array([3])],
      ["a", new Float32Array([4])],
    ]);
    const ret = outerStep(params, new Map([["b", new Float32Array([0.5, -1])]]), 2);
    assert.equal(ret, params);
    assert.deepEqual([...params.get("b")!], [0, 4]);
    // "B" (0x42) < "a" (0x61) < "b" (0x62) in code-unit order.
    const bytes = Buffer.from(new Float32Array([3, 4, 0, 4]).buffer);
    assert.equal(modelHash(params, specs2), createHash("sha256").update(bytes).digest("hex"));
    assert.equal(modelHash(params, [...specs2].reverse()), modelHash(params, specs2));
    assert.throws(() => modelHash(new Map(), specs2), SparseLocoError);
  });

  it("selectedCoordinates and decodedNorms describe the dense decoded update", () => {
    const u = updates.get("0xa")!;
    const coords = selectedCoordinates(u, specs);
    const norms = decodedNorms(u);
    for (const s of specs) {
      const dense = decompressTensor(u.get(s.name)!, s);
      const c = coords.get(s.name)!;
      assert.equal(new Set(c).size, c.length);
      for (let i = 1; i < c.length; i++) assert.ok(c[i] > c[i - 1]);
      dense.forEach((v, i) => {
        if (v !== 0) assert.ok(c.includes(i));
      });
      const norm = Math.sqrt(dense.reduce((a, v) => a + v * v, 0));
      assert.ok(Math.abs(norms.get(s.name)! - norm) <= 1e-9 + 1e-6 * norm);
    }
  });
});

describe("DiLoCo dense baseline", () => {
  it("averages fp32 pseudo-gradients and takes a Nesterov step (mu 0.9, lr 0.7)", () => {
    const specs: TensorSpec[] = [{ name: "w", shape: [2] }];
    const byPeer = new Map([
      ["p2", new Map([["w", new Float32Array([1, 3])]])],
      ["p1", new Map([["w", new Float32Array([3, 5])]])],
      ["p3", new Map([["w", new Float32Array([Number.NaN, 0])]])], // skipped
    ]);
    const mean = DiLoCoOuter.mean(byPeer, specs);
    assert.deepEqual([...mean.get("w")!], [2, 4]);
    const outer = new DiLoCoOuter({}, { specs });
    const params: ParamMap = new Map([["w", new Float32Array([10, 10])]]);
    outer.step(params, mean); // m = g; theta -= 0.7 * (g + 0.9 g)
    assert.deepEqual([...params.get("w")!], [10 - 0.7 * 1.9 * 2, 10 - 0.7 * 1.9 * 4].map(Math.fround));
    outer.step(params, mean); // m = 1.9 g; theta -= 0.7 * (g + 0.9 * 1.9 g)
    assert.ok(Math.abs(params.get("w")![0] - (10 - 0.7 * 1.9 * 2 - 0.7 * 2.71 * 2)) < 1e-5);
    const bytes = encodeDenseUpdate(mean, specs);
    assert.deepEqual(decodeDenseUpdate(bytes, specs), mean);
    assert.throws(() => decodeDenseUpdate(bytes.subarray(0, bytes.length - 1), specs), SparseLocoDecodeError);
  });
});
