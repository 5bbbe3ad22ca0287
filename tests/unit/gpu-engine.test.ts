import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs-core";
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
import { GpuError, probeWebGpu, WebGpuEngine } from "../../node/gpu/index.ts";
import {
  causalMask,
  gptLoss,
  initBackend,
  initParams,
  ModelError,
  modelPresets,
  paramSpecs,
} from "../../node/model/index.ts";
import type { ParamMap } from "../../node/sparseloco/types.ts";
import { openEngine, type TokenBatch, TrainError, type TrainingEngine, warmupCosine } from "../../node/train/index.ts";
import { relErr } from "../fixtures/gpu-reference.ts";

/**
 * The WebGPU engine against the tfjs-wasm engine (the numerical reference), for real on whatever
 * adapter there is (Mesa's lavapipe in CI, ~1 GFLOP/s: nano, short windows). Tolerances: the loss
 * within 1e-5 (relative); each parameter's gradient within 1e-4 of its largest |value| (measured:
 * < 1e-6); 200 Brown steps end within 2 % of the wasm engine's held-out loss.
 */
const cfg = modelPresets.nano;
const ADDR = "0x00000000000000000000000000000000000000bb";
let ds: Dataset;
const opened: TrainingEngine[] = [];
async function gpuEngine(options: Parameters<typeof WebGpuEngine.create>[0] = {}): Promise<WebGpuEngine> {
  const e = await WebGpuEngine.create({ allowFallbackAdapter: true, ...options }, { config: cfg });
  opened.push(e);
  return e;
}
async function wasmEngine(options: Parameters<typeof openEngine>[0] extends infer O ? Omit<O, "backend"> : never = {}) {
  const { engine } = await openEngine({ backend: "wasm", ...options }, { config: cfg });
  opened.push(engine);
  return engine;
}

before(async () => {
  await initBackend("wasm");
  prepareDataset(DEFAULT_DATASET_DIR);
  ds = loadDataset(DEFAULT_DATASET_DIR);
});
after(() => {
  for (const e of opened) e.dispose();
});

function batchesFor(round: number, steps: number, batch: number, seqLen: number): TokenBatch[] {
  const a = assignSamples(
    { runId: "gpu-test", round, address: ADDR, count: steps * batch, batchSize: batch, seqLen },
    ds,
  );
  return assignmentBatches(a, ds, batch, seqLen);
}

/** tf.variableGrads of the model's loss on wasm: the reference gradient. */
function wasmGradients(params: ParamMap, b: TokenBatch): { loss: number; grads: Map<string, Float32Array> } {
  const specs = paramSpecs(cfg);
  const vars = specs.map((s) => tf.variable(tf.tensor(params.get(s.name)!, s.shape as number[]), true));
  try {
    const byName = new Map(specs.map((s, i) => [s.name, vars[i] as tf.Tensor]));
    const { value, grads } = tf.tidy(() => {
      const ids = tf.tensor2d(b.inputs, [b.batch, b.seqLen], "int32");
      const tg = tf.tensor2d(b.targets, [b.batch, b.seqLen], "int32");
      return tf.variableGrads(() => gptLoss(cfg, byName, ids, tg, causalMask(b.seqLen)), vars);
    });
    const out = {
      loss: value.dataSync()[0],
      grads: new Map(specs.map((s, i) => [s.name, grads[vars[i].name].dataSync() as Float32Array])),
    };
    tf.dispose([value, ...Object.values(grads)]);
    return out;
  } finally {
    for (const v of vars) v.dispose();
  }
}

describe("WebGPU engine vs the wasm engine", () => {
  for (const T of [16, 64]) {
    it(`loss and every gradient match on nano, T = ${T} (${T <= 32 ? "simple" : "tiled"} attention)`, async (t) => {
      const engine = await gpuEngine();
      const params = initParams(cfg, `parity-${T}`);
      const [b] = batchesFor(T, 1, 2, T);
      const ref = wasmGradients(params, b);
      const got = await engine.gradients(params, b);
      assert.ok(Math.abs(got.loss - ref.loss) <= 1e-5 * ref.loss, `loss ${got.loss} vs ${ref.loss}`);
      let sq = 0;
      let worst = 0;
      for (const s of paramSpecs(cfg)) {
        const r = ref.grads.get(s.name)!;
        const e = relErr(got.grads.get(s.name)!, r);
        assert.ok(e <= 1e-4, `${s.name}: gradient off by ${e.toExponential(2)} of its largest value`);
        worst = Math.max(worst, e);
        sq += r.reduce((acc, v) => acc + v * v, 0);
      }
      t.diagnostic(`loss ${got.loss} vs ${ref.loss}; worst gradient error ${worst.toExponential(2)}`);
      assert.ok(Math.abs(got.gradNorm - Math.sqrt(sq)) <= 1e-4 * Math.sqrt(sq), `grad norm ${got.gradNorm}`);
    });
  }

  it("three clipped AdamW steps land where the wasm engine's do", async () => {
    const lr = warmupCosine({ peakLr: 3e-3, warmupSteps: 2, totalSteps: 10, minRatio: 0.1 });
    const gpu = await gpuEngine({ lr, gradClip: 0.5 });
    const cpu = await wasmEngine({ lr, gradClip: 0.5 });
    const p0 = initParams(cfg, "adamw-steps");
    const bs = batchesFor(7, 3, 2, 16);
    const a = await gpu.train(p0, bs, 3, { stepOffset: 1 });
    const b = await cpu.train(p0, bs, 3, { stepOffset: 1 });
    for (let i = 0; i < 3; i++) {
      assert.ok(
        Math.abs(a.losses[i] - b.losses[i]) <= 1e-5 * b.losses[i],
        `loss ${i}: ${a.losses[i]} vs ${b.losses[i]}`,
      );
      assert.ok(Math.abs(a.gradNorms[i] - b.gradNorms[i]) <= 1e-4 * b.gradNorms[i], `norm ${i}`);
    }
    assert.ok(b.gradNorms[0] > 0.5, "the clip was active");
    // Adam moves every weight by ~lr per step; the engines agree to a small fraction of that.
    for (const s of paramSpecs(cfg)) {
      const d = relErr(
        a.params.get(s.name)!.map((v, i) => v - p0.get(s.name)![i]),
        b.params.get(s.name)!.map((v, i) => v - p0.get(s.name)![i]),
      );
      assert.ok(d <= 2e-3, `${s.name}: update off by ${d.toExponential(2)} of its largest step`);
    }
  });

  it("200 steps on Brown text reach the wasm engine's held-out loss within 2 %", async (t) => {
    // As the wasm engine's own convergence test: nano, batch 4 of 16-token windows, warmup + cosine.
    const H = 200;
    const lr = warmupCosine({ peakLr: 1e-2, warmupSteps: 10, totalSteps: H, minRatio: 0.1 });
    const gpu = await gpuEngine({ lr });
    const cpu = await wasmEngine({ lr });
    const held = makeBatches(ds.heldout, heldoutSamples(ds, "held", 32, 32), 32, 32);
    const p0 = initParams(cfg, "convergence");
    const train = batchesFor(0, H, 4, 16);
    const rg = await gpu.train(p0, train, H);
    const rc = await cpu.train(p0, train, H);
    const l0 = await cpu.evaluate(p0, held);
    const lc = await cpu.evaluate(rc.params, held);
    const lg = await cpu.evaluate(rg.params, held);
    t.diagnostic(
      `held-out ${l0.toFixed(4)} -> webgpu ${lg.toFixed(4)}, wasm ${lc.toFixed(4)} (${(100 * (lg / lc - 1)).toFixed(2)} %); ${rg.seconds.toFixed(1)} s vs ${rc.seconds.toFixed(1)} s`,
    );
    assert.equal(rg.steps, H);
    assert.ok(lc <= 0.7 * l0, `wasm: held-out ${l0.toFixed(3)} -> ${lc.toFixed(3)}`);
    assert.ok(Math.abs(lg - lc) <= 0.02 * lc, `webgpu held-out ${lg.toFixed(4)} vs wasm ${lc.toFixed(4)}`);
    // The GPU's own evaluate agrees with the reference evaluator on the same model.
    const lgOwn = await gpu.evaluate(rg.params, held);
    assert.ok(Math.abs(lgOwn - lg) <= 1e-4 * lg, `evaluate: ${lgOwn} (webgpu) vs ${lg} (wasm)`);
  });
});

describe("WebGPU engine behaviour", () => {
  it("leaves theta_r untouched, resumes from saved AdamW state, honours shouldStop", async () => {
    const engine = await gpuEngine({ lr: () => 1e-3 });
    const p0 = initParams(cfg, "state");
    const copy = new Map([...p0].map(([k, v]) => [k, v.slice()]));
    const bs = batchesFor(1, 3, 2, 16);
    const warm = await engine.train(p0, bs.slice(0, 1), 1);
    const r = await engine.train(warm.params, bs.slice(1, 2), 1);
    for (const [k, v] of p0) assert.deepEqual(v, copy.get(k), `input ${k} was modified`);
    const state = await engine.getOptimizerState();
    assert.equal(state.step, 2);
    const inPlace = await engine.train(r.params, bs.slice(2), 1, { stepOffset: 2 });
    const other = await gpuEngine({ lr: () => 1e-3 });
    other.setOptimizerState(state);
    const resumed = await other.train(r.params, bs.slice(2), 1, { stepOffset: 2 });
    for (const [k, v] of inPlace.params) assert.deepEqual(resumed.params.get(k), v, k);

    const asked: number[] = [];
    const stopped = await engine.train(p0, bs, 3, {
      shouldStop: (done) => {
        asked.push(done);
        return done >= 2;
      },
    });
    assert.equal(stopped.steps, 2);
    assert.equal(stopped.losses.length, 2);
    assert.deepEqual(asked, [1, 2]);
    assert.equal((await engine.train(p0, bs, 3, { shouldStop: () => true })).steps, 1, "the first step always runs");
  });

  it("bad input is a typed error naming the field, and changes nothing", async () => {
    const engine = await gpuEngine({ lr: () => 1e-3 });
    const p0 = initParams(cfg, "bad");
    const [good] = batchesFor(3, 1, 2, 16);
    const bad: Array<[string, TokenBatch, RegExp]> = [
      ["short inputs", { ...good, inputs: good.inputs.slice(1) }, /inputs has 31 ids, want 2x16/],
      ["long targets", { ...good, targets: new Int32Array(33) }, /targets has 33 ids/],
      [
        "seqLen over the context",
        { ...good, seqLen: 65, batch: 1, inputs: new Int32Array(65), targets: new Int32Array(65) },
        /seqLen 65 is not in 1\.\.64/,
      ],
      ["zero batch", { ...good, batch: 0, inputs: new Int32Array(0), targets: new Int32Array(0) }, /batch size 0/],
      [
        "token 256",
        { ...good, inputs: good.inputs.map((v, i) => (i === 5 ? 256 : v)) },
        /inputs\[5\] = 256 is not a token id/,
      ],
      ["token -1", { ...good, targets: good.targets.map((v, i) => (i === 0 ? -1 : v)) }, /targets\[0\] = -1/],
    ];
    for (const [what, b, msg] of bad) {
      await assert.rejects(engine.train(p0, [good, b], 2), (e: unknown) => {
        assert.ok(e instanceof TrainError && e.code === "BAD_BATCH", `${what}: ${e}`);
        assert.match((e as Error).message, msg, what);
        assert.equal((e as Error).message.split("\n").length, 1);
        return true;
      });
      await assert.rejects(engine.evaluate(p0, [b]), TrainError, what);
    }
    const missing = new Map(p0);
    missing.delete("ln_f.bias");
    await assert.rejects(
      engine.train(missing, [good], 1),
      (e: unknown) => e instanceof ModelError && e.code === "MISSING_PARAM",
    );
    const short = new Map(p0);
    short.set("wte.weight", new Float32Array(5));
    await assert.rejects(
      engine.evaluate(short, [good]),
      (e: unknown) => e instanceof ModelError && e.code === "SHAPE_MISMATCH",
    );
    assert.throws(
      () => engine.setOptimizerState({ step: 1, m: p0, v: missing }),
      (e: unknown) => e instanceof TrainError && e.code === "BAD_STATE",
    );
    assert.throws(() => engine.setOptimizerState({ step: -1, m: p0, v: p0 }), TrainError);
    // Nothing above ran a step: the optimizer is where it started and a step gives the fresh result.
    const state = await engine.getOptimizerState();
    assert.equal(state.step, 0);
    assert.ok([...state.m.values()].every((a) => a.every((x) => x === 0)));
    const fresh = await gpuEngine({ lr: () => 1e-3 });
    const x = await engine.train(p0, [good], 1);
    const y = await fresh.train(p0, [good], 1);
    for (const [k, v] of x.params) assert.deepEqual(y.params.get(k), v, k);
  });

  it("a non-finite loss or a throwing callback ends the call with an error, and the next call works", async () => {
    const engine = await gpuEngine({ lr: () => 1e-3 });
    const p0 = initParams(cfg, "nan");
    const bs = batchesFor(4, 4, 2, 16);
    const poisoned = new Map(p0);
    poisoned.set(
      "lm_head.weight",
      p0.get("lm_head.weight")!.map(() => Number.NaN),
    );
    // Several steps are in flight when the first loss is read (readbackLag 2).
    await assert.rejects(
      engine.train(poisoned, bs, 4),
      (e: unknown) => e instanceof TrainError && e.code === "NON_FINITE_LOSS",
    );
    // The NaN reached the Adam moments (as it does in the tfjs engine): a caller resets them to go on.
    engine.resetOptimizerState();
    await assert.rejects(
      engine.train(p0, bs, 4, {
        onStep: () => {
          throw new Error("callback failed");
        },
      }),
      /callback failed/,
    );
    const ok = await engine.train(p0, bs, 4);
    assert.equal(ok.steps, 4);
    assert.ok(ok.losses.every(Number.isFinite));
  });

  it("frees plans beyond maxPlans, leaks no buffer per call, and dispose releases every GPU buffer", async () => {
    const engine = await WebGpuEngine.create(
      { allowFallbackAdapter: true, maxPlans: 2, lr: () => 1e-3 },
      { config: cfg },
    );
    const p0 = initParams(cfg, "leak");
    const shape = (B: number, T: number) => batchesFor(10 + B * T, 1, B, T);
    const idle = engine.liveBuffers;
    await engine.train(p0, shape(1, 8), 1);
    const one = engine.liveBuffers;
    await engine.train(p0, shape(1, 8), 2);
    await engine.evaluate(p0, shape(1, 8));
    assert.equal(engine.liveBuffers, one, "a repeated shape allocates nothing");
    await engine.train(p0, shape(2, 8), 1);
    const two = engine.liveBuffers;
    assert.ok(two > one);
    await engine.train(p0, shape(1, 9), 1);
    await engine.train(p0, shape(3, 5), 1);
    assert.ok(engine.liveBuffers <= two + (two - one), `${engine.liveBuffers} buffers: plans beyond 2 must be freed`);
    await engine.getOptimizerState();
    await engine.gradients(p0, shape(3, 5)[0]);
    assert.ok(engine.liveBuffers > idle);
    engine.dispose();
    assert.equal(engine.liveBuffers, 0, "dispose destroys every buffer");
    await assert.rejects(
      engine.train(p0, shape(1, 8), 1),
      (e: unknown) => e instanceof TrainError && e.code === "DISPOSED",
    );
    engine.dispose(); // idempotent
  });

  it("openEngine: webgpu by name is this engine; auto takes a real GPU or falls back to wasm saying why", async () => {
    const named = await openEngine({ backend: "webgpu" }, { config: cfg });
    opened.push(named.engine);
    assert.equal(named.engine.kind, "webgpu");
    assert.equal(named.backend.backend, "webgpu");
    const { adapter } = await probeWebGpu();
    const auto = await openEngine({ backend: "auto" }, { config: cfg });
    opened.push(auto.engine);
    if (adapter.isFallbackAdapter) {
      assert.equal(auto.engine.kind, "tfjs");
      assert.equal(auto.backend.tried[0]?.name, "webgpu");
      assert.match(auto.backend.tried[0].error, /software WebGPU adapter/);
    } else {
      assert.equal(auto.engine.kind, "webgpu");
    }
  });

  it("a process that trained on dawn survives garbage collection of dropped engines and exits by itself", async () => {
    // dawn.node 0.6.2 segfaulted when the GC collected a device with an onuncapturederror handler, or
    // a buffer its index.js had registered for finalization (node/gpu/device.ts avoids both).
    const script = `
      const { openEngine } = await import("./node/train/index.ts");
      const { initParams, modelPresets } = await import("./node/model/index.ts");
      const cfg = modelPresets.nano;
      const ids = new Int32Array(8).fill(65);
      // Everything of a round is unreachable once it returns, so gc() really collects the dawn objects.
      async function round(i) {
        const { engine } = await openEngine({ backend: "webgpu" }, { config: cfg });
        const r = await engine.train(initParams(cfg, 1), [{ batch: 1, seqLen: 8, inputs: ids, targets: ids }], 1);
        engine.dispose();
        console.log("trained", i, r.steps);
      }
      const { probeWebGpu } = await import("./node/gpu/index.ts");
      for (let i = 0; i < 2; i++) {
        await probeWebGpu(); // what doctor does first: open a device, look, destroy it
        globalThis.gc();
        await round(i);
        globalThis.gc();
        await new Promise((res) => setTimeout(res, 100));
      }
      console.log("collected");`;
    const res = await new Promise<{ code: number | null; out: string }>((resolve) => {
      execFile(
        join(process.cwd(), "node_modules/.bin/node"),
        ["--expose-gc", "--import", "tsx", "--input-type=module", "-e", script],
        { timeout: 120_000 },
        (err, stdout) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout }),
      );
    });
    assert.equal(res.code, 0, res.out);
    assert.match(res.out, /trained 1 1\ncollected/);
  });

  it("a missing adapter is GpuError NO_ADAPTER with the reason", async () => {
    // A software adapter where a GPU was required is the missing-GPU case this machine can produce.
    const { adapter } = await probeWebGpu();
    if (!adapter.isFallbackAdapter) return;
    await assert.rejects(
      WebGpuEngine.create({ allowFallbackAdapter: false }, { config: cfg }),
      (e: unknown) =>
        e instanceof GpuError && e.code === "NO_ADAPTER" && /llvmpipe|software/.test((e as Error).message),
    );
  });
});
