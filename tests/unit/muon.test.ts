import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs-core";
import { runConfigHash, runConfigSchema } from "../../node/config/index.ts";
import {
  assignmentBatches,
  assignSamples,
  type Dataset,
  DEFAULT_DATASET_DIR,
  heldoutSamples,
  loadDataset,
  makeBatches,
  prepareDataset,
} from "../../node/data/index.ts";
import { initBackend, initParams, modelPresets, paramSpecs } from "../../node/model/index.ts";
import {
  createEngine,
  muonShapeScale,
  muonUpdate,
  NS_COEFFICIENTS,
  newtonSchulz,
  type OptimizerState,
  openEngine,
  type TokenBatch,
  TrainError,
  usesMuon,
  warmupCosine,
} from "../../node/train/index.ts";
import { prng } from "../fixtures/prng.ts";

const cfg = modelPresets.nano;
let ds: Dataset;
before(async () => {
  await initBackend("wasm");
  prepareDataset(DEFAULT_DATASET_DIR);
  ds = loadDataset(DEFAULT_DATASET_DIR);
});

/** Row-major float64 matrix helpers for the reference. */
function matmul(a: Float64Array, b: Float64Array, n: number, k: number, m: number): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let p = 0; p < k; p++) {
      const x = a[i * k + p];
      for (let j = 0; j < m; j++) out[i * m + j] += x * b[p * m + j];
    }
  return out;
}
function transpose(a: Float64Array, n: number, m: number): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) out[j * n + i] = a[i * m + j];
  return out;
}

/** Muon's quintic Newton-Schulz in float64, written from the formula (X ← aX + (bA + cA²)X, A = XXᵀ). */
function nsReference(g: Float64Array, rows: number, cols: number, steps: number): Float64Array {
  const tall = rows > cols;
  let n = tall ? cols : rows;
  let m = tall ? rows : cols;
  let x = tall ? transpose(g, rows, cols) : Float64Array.from(g);
  const norm = Math.sqrt(x.reduce((s, v) => s + v * v, 0));
  x = x.map((v) => v / (norm + 1e-7));
  const [a, b, c] = NS_COEFFICIENTS;
  for (let s = 0; s < steps; s++) {
    const A = matmul(x, transpose(x, n, m), n, m, n);
    const AA = matmul(A, A, n, n, n);
    const B = A.map((v, i) => b * v + c * AA[i]);
    const BX = matmul(B, x, n, n, m);
    x = x.map((v, i) => a * v + BX[i]);
  }
  if (tall) {
    x = transpose(x, n, m);
    [n, m] = [m, n];
  }
  return x;
}

function randn(n: number, seed: number): Float64Array {
  const r = prng(seed);
  return Float64Array.from({ length: n }, () => {
    // Box-Muller is fine here: test data, not something nodes must agree on.
    const u = Math.max(r(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
  });
}

/** Largest eigenvalue of the symmetric n x n matrix S by power iteration (float64). */
function maxEig(S: Float64Array, n: number): number {
  let v = new Float64Array(n).fill(1 / Math.sqrt(n));
  let lambda = 0;
  for (let it = 0; it < 500; it++) {
    const w = matmul(S, v, n, n, 1);
    lambda = Math.sqrt(w.reduce((s, x) => s + x * x, 0));
    v = w.map((x) => x / lambda);
  }
  return lambda;
}

describe("Muon: Newton-Schulz orthogonalisation", () => {
  for (const [rows, cols] of [
    [64, 192],
    [256, 64],
    [64, 64],
    [7, 13],
  ]) {
    it(`matches a float64 reference on a ${rows}x${cols} Gaussian matrix and leaves singular values near 1`, () => {
      const g = randn(rows * cols, rows * 1000 + cols);
      const ref = nsReference(g, rows, cols, 5);
      const got = tf.tidy(() => newtonSchulz(tf.tensor2d(Float32Array.from(g), [rows, cols]), 5).dataSync());
      let maxErr = 0;
      let maxRef = 0;
      for (let i = 0; i < ref.length; i++) {
        maxErr = Math.max(maxErr, Math.abs(got[i] - ref[i]));
        maxRef = Math.max(maxRef, Math.abs(ref[i]));
      }
      assert.ok(maxErr <= 1e-4 * Math.max(1, maxRef), `max |float32 - float64| = ${maxErr}`);
      // The quintic trades exactness for speed: singular values land in about [0.7, 1.2] (Muon's note).
      // Check the extremes of the spectrum of X·Xᵀ (wide side): largest and smallest eigenvalue.
      const n = Math.min(rows, cols);
      const m = Math.max(rows, cols);
      const x = rows > cols ? transpose(ref, rows, cols) : ref;
      const S = matmul(x, transpose(x, n, m), n, m, n);
      const top = maxEig(S, n);
      const shifted = S.map((v, i) => (i % (n + 1) === 0 ? 2 - v : -v)); // 2I - S: its top is 2 - min eig
      const bottom = 2 - maxEig(shifted, n);
      assert.ok(Math.sqrt(top) < 1.25, `largest singular value ${Math.sqrt(top)}`);
      // A square Gaussian matrix has singular values near 0 that 5 steps cannot lift; a wide one has none.
      if (m >= 2 * n) assert.ok(Math.sqrt(bottom) > 0.6, `smallest singular value ${Math.sqrt(bottom)}`);
    });
  }

  it("one Muon update matches the formula: momentum, Nesterov, NS, shape scale, decoupled decay", () => {
    const [rows, cols] = [16, 48]; // fan_out/fan_in = 3 in our [in, out] layout: scale sqrt(3)
    assert.equal(muonShapeScale([rows, cols]), Math.sqrt(3));
    assert.equal(muonShapeScale([cols, rows]), 1);
    const p = randn(rows * cols, 1);
    const g = randn(rows * cols, 2);
    const buf = randn(rows * cols, 3);
    const [beta, lr, wd] = [0.95, 0.02, 0.1];
    const bufRef = buf.map((b, i) => beta * b + (1 - beta) * g[i]);
    const u = nsReference(
      g.map((x, i) => x + beta * (bufRef[i] - x)),
      rows,
      cols,
      5,
    );
    const pRef = p.map((x, i) => x * (1 - lr * wd) - lr * Math.sqrt(3) * u[i]);
    const out = tf.tidy(() => {
      const r = muonUpdate(
        { p: tf.tensor2d(Float32Array.from(p), [rows, cols]), buf: tf.tensor2d(Float32Array.from(buf), [rows, cols]) },
        tf.tensor2d(Float32Array.from(g), [rows, cols]),
        lr,
        { momentum: beta, nesterov: true, nsSteps: 5, weightDecay: wd },
      );
      return [r.p.dataSync(), r.buf.dataSync()];
    });
    for (let i = 0; i < p.length; i++) {
      assert.ok(Math.abs(out[0][i] - pRef[i]) < 1e-5, `p[${i}] ${out[0][i]} vs ${pRef[i]}`);
      assert.ok(Math.abs(out[1][i] - bufRef[i]) < 1e-5, `buf[${i}]`);
    }
  });

  it("updates the hidden matrices only; embeddings, head, norms and biases stay on AdamW", () => {
    const muon = paramSpecs(cfg)
      .filter(usesMuon)
      .map((s) => s.name);
    assert.equal(muon.length, 4 * cfg.nLayer);
    for (const n of muon) assert.match(n, /^h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/);
  });
});

const ADDR = "0x00000000000000000000000000000000000000bb";
function batchesFor(round: number, steps: number, batch: number, seqLen: number): TokenBatch[] {
  const a = assignSamples(
    { runId: "muon-test", round, address: ADDR, count: steps * batch, batchSize: batch, seqLen },
    ds,
  );
  return assignmentBatches(a, ds, batch, seqLen);
}

const muonOpts = (steps: number) => ({
  optimizer: "muon" as const,
  lr: warmupCosine({ peakLr: 1e-2, warmupSteps: 10, totalSteps: steps, minRatio: 0.1 }),
  muon: {
    lr: warmupCosine({ peakLr: 0.02, warmupSteps: 10, totalSteps: steps, minRatio: 0.1 }),
    momentum: 0.95,
    nesterov: true,
    nsSteps: 5,
  },
});

describe("training engine with Muon (wasm)", () => {
  it("nano: 200 Muon steps on Brown text cut held-out loss by >= 30 %", async () => {
    const H = 200;
    const engine = createEngine(muonOpts(H), { config: cfg });
    try {
      const held = makeBatches(ds.heldout, heldoutSamples(ds, "held", 32, 32), 32, 32);
      const p0 = initParams(cfg, "convergence");
      const l0 = await engine.evaluate(p0, held);
      const r = await engine.train(p0, batchesFor(0, H, 4, 16), H);
      const l1 = await engine.evaluate(r.params, held);
      assert.equal(r.steps, H);
      assert.ok(l1 <= 0.7 * l0, `held-out loss ${l0.toFixed(3)} -> ${l1.toFixed(3)}: less than a 30 % drop`);
    } finally {
      engine.dispose();
    }
  });

  it("is deterministic, and its state (momentum for matrices, AdamW moments for the rest) round-trips", async () => {
    const base = tf.memory().numTensors;
    const mk = () => createEngine(muonOpts(100), { config: cfg });
    const [a, b, c] = [mk(), mk(), mk()];
    const p0 = initParams(cfg, "muon-state");
    const bs = batchesFor(1, 3, 2, 16);
    const ra = await a.train(p0, bs.slice(0, 2), 2);
    const rb = await b.train(p0, bs.slice(0, 2), 2);
    for (const [k, v] of ra.params) assert.deepEqual(rb.params.get(k), v, `not deterministic: ${k}`);

    const state = await a.getOptimizerState();
    const specs = paramSpecs(cfg);
    assert.equal(state.step, 2);
    assert.equal(state.m.size, specs.length);
    assert.deepEqual(
      [...state.v.keys()].sort(),
      specs
        .filter((s) => !usesMuon(s))
        .map((s) => s.name)
        .sort(),
    );
    // Continue in a fresh engine from the saved state: the same bits as continuing in place.
    const inPlace = await a.train(ra.params, bs.slice(2), 1, { stepOffset: 2 });
    c.setOptimizerState(state);
    const resumed = await c.train(ra.params, bs.slice(2), 1, { stepOffset: 2 });
    for (const [k, v] of inPlace.params) assert.deepEqual(resumed.params.get(k), v, k);

    // An AdamW engine's state (v for every tensor) does not fit: typed error, nothing changed.
    const adamw = createEngine({}, { config: cfg });
    await adamw.train(p0, bs.slice(0, 1), 1);
    const wrong: OptimizerState = await adamw.getOptimizerState();
    const before = await c.getOptimizerState();
    assert.throws(
      () => c.setOptimizerState(wrong),
      (e: unknown) => e instanceof TrainError && e.code === "BAD_STATE",
    );
    assert.deepEqual(await c.getOptimizerState(), before);
    assert.throws(
      () => adamw.setOptimizerState(state),
      (e: unknown) => e instanceof TrainError && e.code === "BAD_STATE",
    );

    c.resetOptimizerState();
    const zero = await c.getOptimizerState();
    assert.equal(zero.step, 0);
    for (const m of [...zero.m.values(), ...zero.v.values()]) assert.ok(m.every((x) => x === 0));
    for (const e of [a, b, c, adamw]) e.dispose();
    assert.equal(tf.memory().numTensors, base, "no tensors leak");
  });

  it("rejects an unknown optimizer with a typed error", () => {
    assert.throws(
      () => createEngine({ optimizer: "sgd" as never }, { config: cfg }),
      (e: unknown) => e instanceof TrainError && e.code === "BAD_OPTIONS" && /optimizer/.test(e.message),
    );
  });

  it("the webgpu engine refuses optimizer muon with a typed error before it opens an adapter", async () => {
    await assert.rejects(
      openEngine({ backend: "webgpu", optimizer: "muon" }, { config: cfg }),
      (e: unknown) => e instanceof TrainError && e.code === "BAD_OPTIONS" && /muon.*webgpu/.test(e.message),
    );
  });

  it("the run config selects the optimizer per run, and the config hash covers it", () => {
    const adamw = runConfigSchema.parse({ runId: "r" });
    const muon = runConfigSchema.parse({ runId: "r", train: { optimizer: "muon" } });
    assert.equal(adamw.train.optimizer, "adamw");
    assert.equal(muon.train.muonPeakLr, 0.02);
    assert.equal(muon.train.muonMomentum, 0.95);
    assert.notEqual(runConfigHash(muon), runConfigHash(adamw));
    const lr = runConfigSchema.parse({ runId: "r", train: { optimizer: "muon", muonPeakLr: 0.01 } });
    assert.notEqual(runConfigHash(lr), runConfigHash(muon));
    const bad = runConfigSchema.safeParse({ runId: "r", train: { optimizer: "sgd" } });
    assert.ok(!bad.success && bad.error.issues[0].path.join(".") === "train.optimizer");
  });
});
