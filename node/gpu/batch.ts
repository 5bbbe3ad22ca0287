import type { GPTConfig } from "../model/options.ts";
import { TrainError } from "../train/errors.ts";
import type { TokenBatch } from "../train/types.ts";
import { packBatch } from "./embedding.ts";

/**
 * Checks batch `i` before anything reaches the GPU (the kernels run without bounds robustness) and packs
 * it with its CSR index. Bad input is a TrainError BAD_BATCH naming the field; nothing is changed.
 */
export function packTokenBatch(b: TokenBatch, i: number, c: GPTConfig, maxRows: number): Int32Array<ArrayBuffer> {
  const B = b.batch;
  const T = b.seqLen;
  const bad = (what: string) => new TrainError("BAD_BATCH", `batch ${i}: ${what}`);
  if (!(Number.isInteger(B) && B > 0)) throw bad(`batch size ${B} is not a positive integer`);
  if (!(Number.isInteger(T) && T > 0 && T <= c.seqLen)) throw bad(`seqLen ${T} is not in 1..${c.seqLen}`);
  if (B * T > maxRows) throw bad(`${B}x${T} tokens exceed the ${maxRows} per step this GPU's buffers hold`);
  for (const [field, arr] of [
    ["inputs", b.inputs],
    ["targets", b.targets],
  ] as const) {
    if (!(arr instanceof Int32Array) || arr.length !== B * T)
      throw bad(`${field} has ${arr?.length} ids, want ${B}x${T} = ${B * T}`);
    for (let r = 0; r < arr.length; r++) {
      const v = arr[r];
      if (!(v >= 0 && v < c.vocabSize)) throw bad(`${field}[${r}] = ${v} is not a token id (0..${c.vocabSize - 1})`);
    }
  }
  return packBatch(b.inputs, b.targets, c.vocabSize);
}
