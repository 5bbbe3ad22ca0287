/**
 * Byte-level tokenizer: token = UTF-8 byte (vocab 256). No merges file to ship or agree on, every
 * string round-trips exactly, and the embedding is a cheap one-hot matmul. BPE would cut sequence
 * length ~4x; left for later (docs/training.md).
 */
export const BYTE_VOCAB = 256;

export function encode(text: string): Uint16Array {
  return Uint16Array.from(Buffer.from(text, "utf8"));
}

export function decode(tokens: ArrayLike<number>): string {
  return Buffer.from(Uint8Array.from(tokens as ArrayLike<number>)).toString("utf8");
}
