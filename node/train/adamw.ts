import * as tf from "@tensorflow/tfjs-core";

/** AdamW hyper-parameters (torch.optim.AdamW semantics). */
export interface AdamWHyper {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
}

export interface AdamWSlots {
  readonly p: tf.Tensor;
  readonly m: tf.Tensor;
  readonly v: tf.Tensor;
}

/**
 * One AdamW update of one tensor (Loshchilov & Hutter; torch semantics): bias-corrected moments at
 * update number `t` (1-based), decoupled decay θ ← θ(1 − lr·wd) when `decay` (the engine decays matrices
 * only, not biases or LayerNorm gains). A pure function of tensors: returns the new (p, m, v) for the
 * caller to assign; call it inside tf.tidy. A GPU engine implements the same arithmetic in its kernel.
 */
export function adamwUpdate(
  s: AdamWSlots,
  g: tf.Tensor,
  lr: number,
  t: number,
  o: AdamWHyper,
  decay: boolean,
): AdamWSlots {
  const m = tf.add(tf.mul(s.m, o.beta1), tf.mul(g, 1 - o.beta1));
  const v = tf.add(tf.mul(s.v, o.beta2), tf.mul(tf.square(g), 1 - o.beta2));
  const bc1 = 1 - o.beta1 ** t;
  const bc2 = 1 - o.beta2 ** t;
  const update = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), o.eps));
  const decayed = decay && o.weightDecay > 0 ? tf.mul(s.p, 1 - lr * o.weightDecay) : s.p;
  return { p: tf.sub(decayed, tf.mul(update, lr)), m, v };
}
