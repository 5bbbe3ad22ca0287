import { ChainError } from "./errors.ts";

/**
 * The contract's compact encodings (docs/contract.md): scores are one big-endian uint16 per peer
 * index; sets are bitmaps where peer i is bit (i % 8) of byte i / 8 (least significant bit first).
 */

export const MAX_SCORE = 0xffff;

/** Scores by peer index → bytes; each must be an integer in [0, 65535]. */
export function encodeScores(scores: readonly number[]): Uint8Array {
  const out = new Uint8Array(scores.length * 2);
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (!Number.isInteger(s) || s < 0 || s > MAX_SCORE) {
      throw new ChainError("BAD_PARAMS", `score ${i} is ${s}; scores are integers in [0, ${MAX_SCORE}]`);
    }
    out[2 * i] = s >> 8;
    out[2 * i + 1] = s & 0xff;
  }
  return out;
}

export function decodeScores(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < bytes.length; i += 2) out.push((bytes[i] << 8) | bytes[i + 1]);
  return out;
}

/** Peer indices → the shortest bitmap holding them. */
export function encodeBitmap(indices: Iterable<number>): Uint8Array {
  const list = [...indices];
  const max = list.length === 0 ? -1 : Math.max(...list);
  const out = new Uint8Array(Math.floor(max / 8) + 1);
  for (const i of list) {
    if (!Number.isInteger(i) || i < 0 || i > 0xffff) throw new ChainError("BAD_PARAMS", `bad peer index ${i}`);
    out[i >> 3] |= 1 << (i & 7);
  }
  return max < 0 ? new Uint8Array(0) : out;
}

/** Bitmap → sorted peer indices. */
export function decodeBitmap(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let b = 0; b < bytes.length; b++) {
    for (let bit = 0; bit < 8; bit++) if ((bytes[b] >> bit) & 1) out.push(b * 8 + bit);
  }
  return out;
}

/**
 * Score components (emitted only, the contract does not parse them): one byte K, then for each peer
 * index K big-endian int16 values. Validators put fixed-point numbers here (e.g. loss gains × 1000).
 */
export function encodeComponents(perPeer: readonly (readonly number[])[]): Uint8Array {
  const k = perPeer.length === 0 ? 0 : perPeer[0].length;
  if (k > 255) throw new ChainError("BAD_PARAMS", "at most 255 score components");
  const out = new Uint8Array(1 + perPeer.length * k * 2);
  const view = new DataView(out.buffer);
  out[0] = k;
  perPeer.forEach((row, i) => {
    if (row.length !== k) throw new ChainError("BAD_PARAMS", `peer ${i} has ${row.length} components, expected ${k}`);
    row.forEach((v, j) => {
      const c = Math.max(-32768, Math.min(32767, Math.round(v)));
      view.setInt16(1 + (i * k + j) * 2, c, false);
    });
  });
  return out;
}

export function decodeComponents(bytes: Uint8Array): number[][] {
  if (bytes.length === 0) return [];
  const k = bytes[0];
  if (k === 0) return [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const peers = Math.floor((bytes.length - 1) / (2 * k));
  const out: number[][] = [];
  for (let i = 0; i < peers; i++) {
    const row: number[] = [];
    for (let j = 0; j < k; j++) row.push(view.getInt16(1 + (i * k + j) * 2, false));
    out.push(row);
  }
  return out;
}

/**
 * Lower stake-weighted median, the contract's rule: sort by value; the first value whose cumulative
 * weight reaches half the total. The JavaScript reference the contract tests compare against.
 */
export function weightedMedian(values: readonly number[], weights: readonly bigint[]): number {
  if (values.length === 0) return 0;
  const total = weights.reduce((a, b) => a + b, 0n);
  const order = values.map((v, i) => [v, weights[i]] as const).sort((a, b) => a[0] - b[0]);
  let cum = 0n;
  for (const [v, w] of order) {
    cum += w;
    if (cum * 2n >= total) return v;
  }
  return order[order.length - 1][0];
}
