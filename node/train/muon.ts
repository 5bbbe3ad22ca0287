import * as tf from "@tensorflow/tfjs-core";
import type { TensorSpec } from "../sparseloco/types.ts";

/**
 * Muon (Keller Jordan, 2024, github.com/KellerJordan/Muon): momentum SGD whose update, for a 2-D hidden
 * matrix, is replaced by its nearest semi-orthogonal matrix, approximated by 5 steps of a quintic
 * Newton-Schulz iteration. Embeddings, the LM head, LayerNorm gains and biases stay on AdamW, as in Muon
 * and MuLoCo (Thérien et al. 2025, arXiv 2505.23725).
 */
export interface MuonHyper {
  /** Momentum β of the buffer (Muon: 0.95). */
  readonly momentum: number;
  /** Nesterov form: orthogonalise g + β(buf − g) instead of buf (Muon's default). */
  readonly nesterov: boolean;
  /** Newton-Schulz iterations (Muon: 5). */
  readonly nsSteps: number;
  /** Decoupled weight decay θ ← θ(1 − lr·wd), as AdamW's. */
  readonly weightDecay: number;
}

/** Quintic coefficients (a, b, c) of Muon's iteration X ← aX + (bA + cA²)X with A = XXᵀ. */
export const NS_COEFFICIENTS = [3.4445, -4.775, 2.0315] as const;

/** Whether Muon updates this parameter: a 2-D matrix inside a transformer block (not wte, wpe, lm_head). */
export function usesMuon(spec: TensorSpec): boolean {
  return spec.shape.length === 2 && spec.name.startsWith("h.");
}

/**
 * Muon's shape scaling sqrt(max(1, fan_out / fan_in)), which keeps the update's RMS comparable across
 * shapes. Muon writes it for torch's [out, in] weights; ours are [in, out] (y = x·W), hence cols/rows.
 */
export function muonShapeScale(shape: readonly number[]): number {
  return Math.sqrt(Math.max(1, shape[1] / shape[0]));
}

/**
 * Approximate orthogonalisation of G (the U·S'·Vᵀ of Muon, S' roughly in [0.7, 1.2]): normalise by the
 * Frobenius norm so every singular value is <= 1, then `steps` quintic Newton-Schulz iterations on the
 * wide orientation (XXᵀ is the smaller Gram matrix). float32 here; Muon runs it in bfloat16.
 */
export function newtonSchulz(g: tf.Tensor2D, steps: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [a, b, c] = NS_COEFFICIENTS;
    const tall = g.shape[0] > g.shape[1];
    let x: tf.Tensor2D = tall ? tf.transpose(g) : g;
    x = tf.div(x, tf.add(tf.norm(x), 1e-7));
    for (let i = 0; i < steps; i++) {
      // Explicit transpose + plain matMul: wasm's transposed matMul variants take slow paths.
      const A = tf.matMul(x, tf.transpose(x));
      const B = tf.add(tf.mul(A, b), tf.mul(tf.matMul(A, A), c));
      x = tf.add(tf.mul(x, a), tf.matMul(B, x));
    }
    return tall ? tf.transpose(x) : x;
  });
}

export interface MuonSlots {
  readonly p: tf.Tensor2D;
  /** Momentum buffer, the matrix's shape. */
  readonly buf: tf.Tensor2D;
}

/**
 * One Muon update of one matrix: buf ← β·buf + (1 − β)·g; u = NS(g + β(buf − g)) (Nesterov) or NS(buf);
 * θ ← θ(1 − lr·wd) − lr·scale·u. A pure function of tensors (call inside tf.tidy); returns the new
 * (p, buf) for the caller to assign.
 */
export function muonUpdate(s: MuonSlots, g: tf.Tensor2D, lr: number, o: MuonHyper): MuonSlots {
  const buf = tf.add(tf.mul(s.buf, o.momentum), tf.mul(g, 1 - o.momentum)) as tf.Tensor2D;
  const dir = o.nesterov ? (tf.add(g, tf.mul(tf.sub(buf, g), o.momentum)) as tf.Tensor2D) : buf;
  const u = tf.mul(newtonSchulz(dir, o.nsSteps), muonShapeScale(s.p.shape));
  const decayed = o.weightDecay > 0 ? tf.mul(s.p, 1 - lr * o.weightDecay) : s.p;
  return { p: tf.sub(decayed, tf.mul(u, lr)) as tf.Tensor2D, buf };
}
