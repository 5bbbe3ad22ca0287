import * as tf from "@tensorflow/tfjs-core";
import { registerGradients } from "./gradients.ts";
import type { GPTConfig } from "./options.ts";

registerGradients();

/** Parameter tensors by spec name (tf.Variables while training, plain tensors for evaluation). */
export type TensorMap = ReadonlyMap<string, tf.Tensor>;

/**
 * Rank-2 matmul whose backward pass uses explicit transposes and plain (non-transposed) matMuls.
 * tfjs-backend-wasm is only fast for the plain rank-2 case; the default gradient asks it for
 * transposeA/transposeB products, which take a slow path (measured 4x on a whole step, DESIGN.md).
 */
export const mm = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [a, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as tf.Tensor2D[];
      return [tf.matMul(dy as tf.Tensor2D, tf.transpose(sb)), tf.matMul(tf.transpose(sa), dy as tf.Tensor2D)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/** Batched (rank-3) version of `mm`, same reason. */
export const bmm = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [a, b, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as tf.Tensor3D[];
      const d = dy as tf.Tensor3D;
      return [tf.matMul(d, tf.transpose(sb, [0, 2, 1])), tf.matMul(tf.transpose(sa, [0, 2, 1]), d)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (a: tf.Tensor3D, b: tf.Tensor3D) => tf.Tensor3D;

/**
 * LayerNorm over the last axis with an analytic backward (one fused custom gradient instead of the
 * chain through mean/variance/rsqrt, which on wasm costs a Tile per mean and many small kernels):
 * dx = rstd * (dxh - mean(dxh) - xh * mean(dxh * xh)), dxh = dy * g; dg = sum(dy * xh); db = sum(dy).
 */
const layerNormCore = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, g, b, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
  const mean = tf.mean(x, -1, true);
  const xc = tf.sub(x, mean);
  const rstd = tf.rsqrt(tf.add(tf.mean(tf.mul(xc, xc), -1, true), lnEps));
  const xh = tf.mul(xc, rstd);
  save([xh, rstd, g]);
  return {
    value: tf.add(tf.mul(xh, g), b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sxh, srstd, sg] = saved;
      const dxh = tf.mul(dy, sg);
      const dx = tf.mul(
        tf.sub(tf.sub(dxh, tf.mean(dxh, -1, true)), tf.mul(sxh, tf.mean(tf.mul(dxh, sxh), -1, true))),
        srstd,
      );
      return [dx, colSum(tf.mul(dy, sxh)), colSum(dy)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor2D, g: tf.Tensor, b: tf.Tensor) => tf.Tensor2D;

// customGrad closures cannot take attributes; every preset uses the PyTorch default epsilon.
let lnEps = 1e-5;
function layerNorm(x: tf.Tensor2D, g: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor2D {
  lnEps = eps;
  return layerNormCore(x, g, b);
}

const GELU_K = Math.sqrt(2 / Math.PI);
/**
 * GELU, tanh approximation (GPT-2; torch `approximate='tanh'`), computed through the identity
 * 0.5(1 + tanh(z)) = sigmoid(2z): wasm runs sigmoid through XNNPACK's vectorised kernel while its tanh
 * is scalar (tf.profile: 2.5 ms per [1024, 256] tanh). Derivative written out:
 * s = sigmoid(2z), z = k(x + 0.044715 x^3); d/dx = s + x s (1 - s) 2k (1 + 3*0.044715 x^2).
 */
const gelu = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
  const x2 = tf.mul(x, x);
  const sg = tf.sigmoid(tf.mul(x, tf.add(tf.mul(x2, 2 * 0.044715 * GELU_K), 2 * GELU_K)));
  save([x, x2, sg]);
  return {
    value: tf.mul(x, sg),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sx2, ss] = saved;
      const dz2 = tf.add(tf.mul(sx2, 2 * 3 * 0.044715 * GELU_K), 2 * GELU_K);
      const d = tf.add(ss, tf.mul(tf.mul(sx, tf.mul(ss, tf.sub(1, ss))), dz2));
      return [tf.mul(dy, d)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor2D) => tf.Tensor2D;

/** Column sums of a [N, M] matrix as a plain matMul with a row of ones: on wasm a reduction over
 * axis 0 transposes internally, while a rank-2 NN matMul takes XNNPACK's fast path. */
function colSum(x: tf.Tensor): tf.Tensor1D {
  const n = x.shape[0];
  return tf.reshape(tf.matMul(tf.ones([1, n]), x as tf.Tensor2D), [-1]) as tf.Tensor1D;
}

/** y = x W + b with one custom gradient (explicit transposes, bias gradient as a ones-matmul). */
const linear = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.add(tf.matMul(x, w), b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sw] = saved as tf.Tensor2D[];
      const d = dy as tf.Tensor2D;
      return [tf.matMul(d, tf.transpose(sw)), tf.matMul(tf.transpose(sx), d), colSum(d)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor) => tf.Tensor2D;

/**
 * Token embedding as a one-hot matmul: tf.gather has no gradient kernel on wasm, and at a byte
 * vocabulary a [B*T, 256] x [256, C] matmul is cheap. The gradient goes to the table only (ids are
 * data), and its one-hot^T is built directly rather than transposed, saving a matmul and a transpose.
 */
function embed(ids: tf.Tensor2D, wte: tf.Tensor2D, V: number): tf.Tensor2D {
  const flat = tf.reshape(ids, [-1]) as tf.Tensor1D;
  const onehot = tf.oneHot(flat, V) as tf.Tensor2D;
  // Read now: intermediate tensors of the forward pass are freed before the backward pass runs.
  const idv = flat.dataSync();
  const f = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [w] = args as [tf.Tensor2D];
    return {
      value: tf.matMul(onehot, w),
      gradFunc: (dy: tf.Tensor) => {
        // one-hot^T [V, N] from the ids, in JS: a scatter of ones, no transpose kernel.
        const n = idv.length;
        const t = new Float32Array(V * n);
        for (let i = 0; i < n; i++) t[idv[i] * n + i] = 1;
        return [tf.matMul(tf.tensor2d(t, [V, n]), dy as tf.Tensor2D)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as (w: tf.Tensor2D) => tf.Tensor2D;
  return f(wte);
}

/** Additive causal mask [T, T]: 0 on and below the diagonal, -1e9 above. Caller owns it. */
export function causalMask(T: number): tf.Tensor2D {
  const m = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -1e9;
  return tf.tensor2d(m, [T, T]);
}

/**
 * Logits [B*T, V] for token ids [B, T]. The embedding is a one-hot matmul: tf.gather has no gradient
 * kernel on wasm, and a [B*T, 256] x [256, C] matmul is cheap at a byte vocabulary.
 */
export function gptLogits(c: GPTConfig, w: TensorMap, ids: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor2D {
  const [B, T] = ids.shape;
  const C = c.nEmbd;
  const nH = c.nHead;
  const hd = C / nH;
  const p = (n: string) => w.get(n)!;
  const wpe = T === c.seqLen ? p("wpe.weight") : tf.slice(p("wpe.weight"), [0, 0], [T, C]);
  let x = tf.reshape(tf.add(tf.reshape(embed(ids, p("wte.weight") as tf.Tensor2D, c.vocabSize), [B, T, C]), wpe), [
    B * T,
    C,
  ]) as tf.Tensor2D;
  const scale = 1 / Math.sqrt(hd);
  for (let i = 0; i < c.nLayer; i++) {
    const l = `h.${i}.`;
    const h = layerNorm(x, p(`${l}ln_1.weight`), p(`${l}ln_1.bias`), c.lnEps);
    const qkv = linear(h, p(`${l}attn.c_attn.weight`), p(`${l}attn.c_attn.bias`));
    // Split the fused [B*T, 3C] projection first, then one 4-D transpose per tensor: the wasm
    // backend's rank-5 transpose was the single largest kernel cost of a step (tf.profile).
    const [q2, k2, v2] = tf.split(qkv, 3, 1);
    const toHeads = (t: tf.Tensor, perm: number[]) => tf.transpose(tf.reshape(t, [B, T, nH, hd]), perm);
    const q = tf.reshape(toHeads(tf.mul(q2, scale), [0, 2, 1, 3]), [B * nH, T, hd]) as tf.Tensor3D;
    const kT = tf.reshape(toHeads(k2, [0, 2, 3, 1]), [B * nH, hd, T]) as tf.Tensor3D; // K^T directly
    const v = tf.reshape(toHeads(v2, [0, 2, 1, 3]), [B * nH, T, hd]) as tf.Tensor3D;
    const scores = tf.add(bmm(q, kT), mask);
    const y = bmm(tf.softmax(scores) as tf.Tensor3D, v);
    const merged = tf.reshape(tf.transpose(tf.reshape(y, [B, nH, T, hd]), [0, 2, 1, 3]), [B * T, C]) as tf.Tensor2D;
    x = tf.add(x, linear(merged, p(`${l}attn.c_proj.weight`), p(`${l}attn.c_proj.bias`)));
    const h2 = layerNorm(x, p(`${l}ln_2.weight`), p(`${l}ln_2.bias`), c.lnEps);
    x = tf.add(
      x,
      linear(
        gelu(linear(h2, p(`${l}mlp.c_fc.weight`), p(`${l}mlp.c_fc.bias`))),
        p(`${l}mlp.c_proj.weight`),
        p(`${l}mlp.c_proj.bias`),
      ),
    );
  }
  const xf = layerNorm(x, p("ln_f.weight"), p("ln_f.bias"), c.lnEps);
  return mm(xf, p("lm_head.weight") as tf.Tensor2D);
}

/**
 * Mean softmax cross-entropy of logits [N, V] against one-hot targets [N, V], with the fused gradient
 * (softmax - onehot)/N: one backward op instead of the chain through logSumExp.
 */
export const crossEntropy = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [logits, onehot, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  const lse = tf.logSumExp(logits, -1);
  const picked = tf.sum(tf.mul(logits, onehot), -1);
  save([logits, onehot]);
  return {
    value: tf.mean(tf.sub(lse, picked)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [l, oh] = saved;
      const n = l.shape[0];
      return [tf.mul(tf.sub(tf.softmax(l), oh), tf.div(dy, n)), tf.zerosLike(oh)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (logits: tf.Tensor2D, onehot: tf.Tensor2D) => tf.Scalar;

/** Mean next-token cross-entropy (nats) of `targets` [B, T] given `ids` [B, T]. */
export function gptLoss(
  c: GPTConfig,
  w: TensorMap,
  ids: tf.Tensor2D,
  targets: tf.Tensor2D,
  mask: tf.Tensor2D,
): tf.Scalar {
  const logits = gptLogits(c, w, ids, mask);
  return crossEntropy(logits, tf.oneHot(tf.reshape(targets, [-1]), c.vocabSize) as tf.Tensor2D);
}
