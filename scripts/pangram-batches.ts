import type { TokenBatch } from "../node/train/types.ts";

/**
 * The training benchmarks' data: windows of the repeated pangram torch_gpt.py (the PyTorch anchor)
 * trains on. Text-like bytes; the content does not change the speed.
 */
const text = Buffer.from(
  "the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. ".repeat(400),
);

/** Batch k: B windows of T tokens and their next-token targets. */
export function pangramBatch(B: number, T: number, k: number): TokenBatch {
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const o = (k * 7919 + b * 104729) % (text.length - T - 1);
    for (let t = 0; t < T; t++) {
      inputs[b * T + t] = text[o + t];
      targets[b * T + t] = text[o + t + 1];
    }
  }
  return { batch: B, seqLen: T, inputs, targets };
}
