import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { GpuAdamW } from "../../node/gpu/adamw.ts";
import { AttentionKernels } from "../../node/gpu/attention.ts";
import { ClipKernels, normChunking } from "../../node/gpu/clip.ts";
import { CrossEntropyKernels } from "../../node/gpu/cross-entropy.ts";
import { openGpu } from "../../node/gpu/device.ts";
import { batchLayout, EmbeddingKernels, packBatch } from "../../node/gpu/embedding.ts";
import { LayerNormKernels, lnChunking } from "../../node/gpu/layernorm.ts";
import { ParamLayout } from "../../node/gpu/layout.ts";
import { chooseTile, MatmulKernels, type MatmulOp, tiles } from "../../node/gpu/matmul.ts";
import { defaultGpuOptions } from "../../node/gpu/options.ts";
import { Recorder } from "../../node/gpu/recorder.ts";
import { Runtime } from "../../node/gpu/runtime.ts";
import { defaultEngineOptions } from "../../node/train/options.ts";
import {
  attentionRef,
  crossEntropyRef,
  layerNormBackwardRef,
  layerNormRef,
  matmulRef,
  randomF32,
  relErr,
} from "../fixtures/gpu-reference.ts";

/**
 * Every WebGPU kernel family against a float64 reference, on shapes that are not multiples of any
 * tile, for real on whatever adapter there is (Mesa's lavapipe in CI). Tolerance: max abs error over
 * max |reference| below 1e-5 (1e-4 where an exp or a long f32 sum sits in between).
 */
let rt: Runtime;
before(async () => {
  rt = new Runtime(await openGpu({ ...defaultGpuOptions, allowFallbackAdapter: true }));
});
after(() => rt?.destroy());

function upload(data: Float32Array | Int32Array | Uint32Array): GPUBuffer {
  const b = rt.storage("test", data.length);
  rt.device.queue.writeBuffer(b, 0, data as Float32Array<ArrayBuffer>);
  return b;
}
function run(record: (rec: Recorder) => Promise<void>): Promise<void> {
  return rt.scoped("test", async () => {
    const rec = new Recorder(rt, "test");
    await record(rec);
    rt.run(rec.finish(() => {}));
  });
}
const read = (b: GPUBuffer, n: number, off = 0) => rt.readFloats(b, off, n);
const ok = (got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string) => {
  const e = relErr(got, want);
  assert.ok(e <= tol, `${what}: relative error ${e.toExponential(2)} > ${tol}`);
};

describe("matmul", () => {
  it("picks big tiles only when they still give enough workgroups", () => {
    const t = tiles(16384);
    assert.equal(chooseTile(4096, 4096, t).BM, 128);
    assert.equal(chooseTile(512, 768, t).BM, 64);
    assert.equal(chooseTile(64, 192, t).BM, 32);
    assert.equal(tiles(8192)[0].BK, 8, "a smaller workgroup memory gets a shallower big tile");
  });

  it("NN + bias + residual, NT + GELU backward, A^T·B with GELU on load and a bias row: every tile, odd shapes", async () => {
    const M = 37;
    const N = 53;
    const K = 29;
    const A = randomF32(M * K, 1);
    const B = randomF32(K * N, 2);
    const Bt = randomF32(N * K, 3);
    const bias = randomF32(N, 4);
    const aux = randomF32(M * N, 5, 2);
    const At = randomF32(K * (M - 1), 6, 2);
    // Operands sit at odd offsets inside larger buffers, as the model's tensors do in the flat buffers.
    const pad = (x: Float32Array, n: number) => Float32Array.from([...randomF32(n, 9), ...x]);
    const cases: Array<{
      name: string;
      op: Omit<MatmulOp, "a" | "b" | "out" | "label">;
      A: Float32Array;
      B: Float32Array;
    }> = [
      { name: "NN+bias+residual", op: { M, N, K, epilogue: "bias_residual" }, A, B },
      { name: "NT+gelu_grad", op: { M, N, K, transB: true, epilogue: "gelu_grad" }, A, B: Bt },
      { name: "TN+gelu+biasRow", op: { M, N, K, transA: true, aGelu: true, biasRow: true }, A: At, B },
    ];
    const mk = new MatmulKernels(rt);
    for (const tile of mk.tiles) {
      for (const c of cases) {
        const a = upload(pad(c.A, 3));
        const b = upload(pad(c.B, 5));
        const biasB = upload(pad(bias, 7));
        const auxB = upload(aux);
        const out = rt.storage("out", M * N + 11);
        await run((rec) =>
          mk.record(
            rec,
            { ...c.op, label: c.name, a, aOff: 3, b, bOff: 5, out, outOff: 11, bias: biasB, biasOff: 7, aux: auxB },
            tile,
          ),
        );
        const want = matmulRef(c.A, c.B, M, N, K, { ...c.op, bias, aux });
        ok(await read(out, M * N, 11), want, 1e-5, `${c.name} tile ${tile.BM}x${tile.BN}`);
      }
    }
  });
});

describe("layernorm", () => {
  it("forward, backward into the residual gradient, and the chunked dg/db reduction (C = 37, 11 rows)", async () => {
    const C = 37;
    const rows = 11;
    const eps = 1e-5;
    const x = randomF32(rows * C, 10, 3);
    const g = randomF32(C, 11);
    const bv = randomF32(C, 12);
    const dy = randomF32(rows * C, 13);
    const dres0 = randomF32(rows * C, 14);
    const gOff = 5;
    const params = upload(Float32Array.from([...randomF32(gOff, 15), ...g, ...bv]));
    const xb = upload(x);
    const y = rt.storage("y", rows * C);
    const stats = rt.storage("stats", 2 * rows);
    const dyb = upload(dy);
    const dres = upload(dres0);
    const { chunks } = lnChunking(rows);
    assert.ok(chunks > 1 && rows % lnChunking(rows).rowsPerChunk !== 0, "the last chunk is partial");
    const part = rt.storage("part", 2 * chunks * C + 3);
    const grads = upload(new Float32Array(2 * C + 4).fill(7));
    const table = upload(Uint32Array.from([3, 4]));
    const ln = new LayerNormKernels(rt, C, eps);
    await run(async (rec) => {
      await ln.forward(rec, { label: "ln", rows, x: xb, params, gOff, y, stats });
      await ln.backward(rec, {
        label: "ln/bwd",
        rows,
        x: xb,
        params,
        gOff,
        dy: dyb,
        stats,
        dres,
        accumulate: true,
        part,
        partOff: 3,
      });
      await ln.reduce(rec, { rows, part, table, grads, count: 1 });
    });
    const ref = layerNormRef(x, g, bv, rows, C, eps);
    ok(await read(y, rows * C), ref.y, 1e-5, "y");
    const st = await read(stats, 2 * rows);
    ok(
      Array.from({ length: rows }, (_, r) => st[2 * r + 1]),
      ref.rstd,
      1e-5,
      "rstd",
    );
    const back = layerNormBackwardRef(x, g, dy, rows, C, eps);
    ok(
      await read(dres, rows * C),
      dres0.map((v, i) => v + back.dx[i]),
      1e-5,
      "dres += dx",
    );
    const gr = await read(grads, 2 * C + 4);
    ok(gr.slice(4, 4 + C), back.dg, 1e-5, "dg");
    ok(gr.slice(4 + C, 4 + 2 * C), back.db, 1e-5, "db");
  });
});

describe("attention", () => {
  // nano's heads (4 x 16); T = 23 takes the simple kernels, T = 100 the tiled ones (two key tiles,
  // the second partial, and two query blocks).
  for (const T of [23, 100]) {
    it(`forward and backward, B = 2, T = ${T}`, async () => {
      const NH = 4;
      const HD = 16;
      const C = NH * HD;
      const B = 2;
      const attn = new AttentionKernels(rt, { nHead: NH, nEmbd: C, simpleMaxT: 32 });
      assert.equal(attn.simple(T), T <= 32);
      const qkv = randomF32(B * T * 3 * C, 20 + T, 1.5);
      const dy = randomF32(B * T * C, 21 + T);
      const qb = upload(qkv);
      const y = rt.storage("y", B * T * C);
      const lse = rt.storage("lse", B * NH * T);
      const dyb = upload(dy);
      const dqkv = rt.storage("dqkv", 3 * B * T * C);
      const dsum = rt.storage("dsum", B * NH * T);
      await run(async (rec) => {
        await attn.forward(rec, { label: "attn", B, T, qkv: qb, y, lse });
        await attn.backward(rec, { label: "attn/bwd", B, T, qkv: qb, y, lse, dy: dyb, dqkv, dsum });
      });
      const ref = attentionRef(qkv, B, T, NH, HD, dy);
      ok(await read(y, B * T * C), ref.y, 1e-5, "y");
      ok(await read(lse, B * NH * T), ref.lse, 1e-5, "lse");
      ok(await read(dqkv, 3 * B * T * C), ref.dqkv, 1e-4, "dqkv");
    });
  }
});

describe("cross-entropy", () => {
  for (const [rows, V] of [
    [13, 37],
    [5, 256],
  ]) {
    it(`loss per row and the mean-loss gradient in place (${rows} rows, V = ${V})`, async () => {
      const logits = randomF32(rows * V, 30 + V, 4);
      const targets = Int32Array.from({ length: rows }, (_, r) => (r * 7 + 3) % V);
      const batch = upload(Int32Array.from([9, 9, ...targets]));
      const lb = upload(logits);
      const keep = upload(logits);
      const lossRows = rt.storage("loss", rows);
      const lossRows2 = rt.storage("loss2", rows);
      const ce = new CrossEntropyKernels(rt, V);
      await run(async (rec) => {
        await ce.record(rec, { label: "ce", rows, batch, targetsOff: 2, logits: lb, lossRows, writeGrad: true });
        await ce.record(rec, {
          label: "ce-eval",
          rows,
          batch,
          targetsOff: 2,
          logits: keep,
          lossRows: lossRows2,
          writeGrad: false,
        });
      });
      const ref = crossEntropyRef(logits, targets, rows, V);
      ok(await read(lossRows, rows), ref.loss, 1e-5, "loss");
      ok(await read(lossRows2, rows), ref.loss, 1e-5, "loss (no grad)");
      ok(await read(lb, rows * V), ref.grad, 1e-5, "grad");
      assert.deepEqual(await read(keep, rows * V), logits, "without writeGrad the logits stay");
    });
  }
});

describe("embedding", () => {
  it("gathers wte + wpe and scatter-adds both gradients without atomics (B = 3, T = 7 < context 64)", async () => {
    const C = 64;
    const V = 256;
    const SEQ = 64;
    const B = 3;
    const T = 7;
    const rows = B * T;
    const ids = Int32Array.from({ length: rows }, (_, r) => [5, 200, 5, 17][r % 4]);
    const targets = new Int32Array(rows);
    const bl = batchLayout(rows, V);
    const batch = upload(packBatch(ids, targets, V));
    const wte = randomF32(V * C, 40);
    const wpe = randomF32(SEQ * C, 41);
    const params = upload(Float32Array.from([...wte, ...wpe]));
    const x = rt.storage("x", rows * C);
    const dx = randomF32(rows * C, 42);
    const dxb = upload(dx);
    // Every gradient row must be written, also the rows no token and no position used.
    const grads = upload(new Float32Array((V + SEQ) * C).fill(7));
    const emb = new EmbeddingKernels(rt, { C, V, seqLen: SEQ });
    const op = { B, T, batch, layout: bl, wteOff: 0, wpeOff: V * C, label: "emb" };
    await run(async (rec) => {
      await emb.forward(rec, { ...op, params, x });
      await emb.backward(rec, { ...op, grads, dx: dxb });
    });
    const wantX = new Float64Array(rows * C);
    const wantG = new Float64Array((V + SEQ) * C);
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < C; c++) {
        wantX[r * C + c] = wte[ids[r] * C + c] + wpe[(r % T) * C + c];
        wantG[ids[r] * C + c] += dx[r * C + c];
        wantG[V * C + (r % T) * C + c] += dx[r * C + c];
      }
    ok(await read(x, rows * C), wantX, 1e-7, "x");
    ok(await read(grads, (V + SEQ) * C), wantG, 1e-6, "dwte, dwpe");
  });
});

describe("global-norm clip and loss", () => {
  for (const scale of [1, 1e-4]) {
    it(`norm of an odd-length gradient, the clip coefficient and the mean loss (grad scale ${scale})`, async () => {
      const n = 20_001;
      const rows = 37;
      const g = randomF32(n, 50, scale);
      const lossRows = randomF32(rows, 51, 5);
      const grads = upload(g);
      const part = rt.storage("part", normChunking(n).parts);
      const lb = upload(lossRows);
      const stats = rt.storage("stats", 4);
      const clip = new ClipKernels(rt);
      await run(async (rec) => {
        await clip.partials(rec, { n, grads, part });
        await clip.finalize(rec, { n, rows, clip: 1, lossRows: lb, part, stats });
      });
      const norm = Math.sqrt(g.reduce((s, v) => s + v * v, 0));
      const loss = lossRows.reduce((s, v) => s + v, 0) / rows;
      const got = await read(stats, 4);
      ok([got[0]], [loss], 1e-6, "loss");
      ok([got[1]], [norm], 1e-5, "norm");
      ok([got[2]], [Math.min(1, 1 / (norm + 1e-6))], 1e-5, "coef");
    });
  }
});

describe("multi-tensor AdamW", () => {
  it("two steps over a matrix and a vector: decay on the matrix only, the clip coefficient applied", async () => {
    const layout = new ParamLayout([
      { name: "w", shape: [5, 7] },
      { name: "b", shape: [9] },
    ]);
    const o = { ...defaultEngineOptions, weightDecay: 0.1 };
    const opt = new GpuAdamW(rt, layout, o);
    const p0 = randomF32(layout.total, 60);
    const g = randomF32(layout.total, 61);
    const coef = 0.5;
    const params = upload(p0);
    const grads = upload(g);
    const stats = upload(Float32Array.from([0, 0, coef, 0]));
    const rec = new Recorder(rt, "adamw");
    await opt.record(rec, { params, grads, stats });
    const list = rec.finish(() => {});
    const lrs = [1e-2, 3e-3];
    for (const lr of lrs) {
      opt.beginStep(lr);
      rt.run(list);
    }
    const want = Float64Array.from(p0);
    const m = new Float64Array(layout.total);
    const v = new Float64Array(layout.total);
    lrs.forEach((lr, s) => {
      const t = s + 1;
      for (let i = 0; i < layout.total; i++) {
        const gi = g[i] * coef;
        m[i] = o.beta1 * m[i] + (1 - o.beta1) * gi;
        v[i] = o.beta2 * v[i] + (1 - o.beta2) * gi * gi;
        const upd = m[i] / (1 - o.beta1 ** t) / (Math.sqrt(v[i] / (1 - o.beta2 ** t)) + o.eps);
        const decay = i < 35 ? 1 - lr * o.weightDecay : 1;
        want[i] = want[i] * decay - lr * upd;
      }
    });
    ok(await read(params, layout.total), want, 1e-6, "params");
    const state = await opt.readState();
    assert.equal(state.step, 2);
    ok(Float32Array.from([...state.m.get("w")!, ...state.m.get("b")!]), m, 1e-6, "m");
    ok(Float32Array.from([...state.v.get("w")!, ...state.v.get("b")!]), v, 1e-6, "v");
  });
});
