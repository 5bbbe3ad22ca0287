import { keccak256 } from "ethers";
import { bytesToHex, hexToBytes } from "../hash/index.ts";
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
 * Score components (emitted only, the contract does not parse them). Two layouts (docs/contract.md):
 *
 *   per-peer only  K (1 byte, 1..255), then for each peer index K big-endian int16 values
 *   with a round   0x00, version 0x01, S (1 byte, ≤ MAX_ROUND_COMPONENTS), S big-endian int16 values
 *                  for the whole round, then K and the per-peer rows as above
 *
 * Validators put fixed-point numbers here (e.g. loss gains × 1000; node/scoring/chain-components.ts
 * says what each slot means). The second layout starts with the byte a per-peer-only encoding uses for
 * K = 0 (no components): a decoder that predates it reads such a submission as having no components
 * instead of misreading its rows. A submission with no per-round values keeps the first layout, so
 * one-stage runs emit exactly the bytes they did before.
 */
export const MAX_ROUND_COMPONENTS = 64;
const ROUND_LAYOUT_VERSION = 1;

function clampInt16(v: number): number {
  return Math.max(-32768, Math.min(32767, Math.round(v)));
}

export function encodeComponents(
  perPeer: readonly (readonly number[])[],
  perRound: readonly number[] = [],
): Uint8Array {
  const k = perPeer.length === 0 ? 0 : perPeer[0].length;
  if (k > 255) throw new ChainError("BAD_PARAMS", "at most 255 score components");
  if (perRound.length > MAX_ROUND_COMPONENTS) {
    throw new ChainError("BAD_PARAMS", `${perRound.length} round components; at most ${MAX_ROUND_COMPONENTS}`);
  }
  const head = perRound.length === 0 ? 0 : 3 + 2 * perRound.length;
  const out = new Uint8Array(head + 1 + perPeer.length * k * 2);
  const view = new DataView(out.buffer);
  if (head > 0) {
    out[1] = ROUND_LAYOUT_VERSION;
    out[2] = perRound.length;
    perRound.forEach((v, j) => {
      if (!Number.isFinite(v)) throw new ChainError("BAD_PARAMS", `round component ${j} is ${v}`);
      view.setInt16(3 + 2 * j, clampInt16(v), false);
    });
  }
  out[head] = k;
  perPeer.forEach((row, i) => {
    if (row.length !== k) throw new ChainError("BAD_PARAMS", `peer ${i} has ${row.length} components, expected ${k}`);
    for (const [j, v] of row.entries()) view.setInt16(head + 1 + (i * k + j) * 2, clampInt16(v), false);
  });
  return out;
}

/**
 * Where the per-peer rows start and the per-round values, or null for bytes in no known layout (an
 * unknown version, a count over MAX_ROUND_COMPONENTS, a truncated header: a hostile or newer
 * validator's bytes decode as no components rather than as garbage).
 */
function splitComponents(bytes: Uint8Array): { rowsAt: number; perRound: number[] } | null {
  if (bytes.length === 0) return null;
  if (bytes[0] !== 0) return { rowsAt: 0, perRound: [] };
  if (bytes.length === 1) return null; // K = 0: no components
  if (bytes.length < 3 || bytes[1] !== ROUND_LAYOUT_VERSION) return null;
  const s = bytes[2];
  if (s > MAX_ROUND_COMPONENTS || bytes.length < 3 + 2 * s) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { rowsAt: 3 + 2 * s, perRound: Array.from({ length: s }, (_, j) => view.getInt16(3 + 2 * j, false)) };
}

/** The per-peer rows (either layout); trailing bytes short of a whole row are ignored. */
export function decodeComponents(bytes: Uint8Array): number[][] {
  const split = splitComponents(bytes);
  if (!split || split.rowsAt >= bytes.length) return [];
  const at = split.rowsAt;
  const k = bytes[at];
  if (k === 0) return [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const peers = Math.floor((bytes.length - at - 1) / (2 * k));
  const out: number[][] = [];
  for (let i = 0; i < peers; i++) {
    const row: number[] = [];
    for (let j = 0; j < k; j++) row.push(view.getInt16(at + 1 + (i * k + j) * 2, false));
    out.push(row);
  }
  return out;
}

/** The per-round int16 values (at most MAX_ROUND_COMPONENTS); [] for the per-peer-only layout. */
export function decodeRoundComponents(bytes: Uint8Array): number[] {
  return splitComponents(bytes)?.perRound ?? [];
}

/** One aggregated update: the peer's registry index and the sha256 of its payload (0x hex or bytes). */
export interface PayloadEntry {
  index: number;
  /** sha256 of the payload, 32 bytes as hex (with or without 0x). */
  hash: string;
}

export const PAYLOAD_ENTRY_BYTES = 34;

/**
 * The payload list a validator commits to in submitScores: entries sorted by peer index, each a
 * big-endian uint16 index followed by the 32-byte sha256. The contract's payload root is its keccak256.
 */
export function encodePayloads(entries: readonly PayloadEntry[]): Uint8Array {
  const sorted = [...entries].sort((a, b) => a.index - b.index);
  const out = new Uint8Array(sorted.length * PAYLOAD_ENTRY_BYTES);
  sorted.forEach((e, k) => {
    if (!Number.isInteger(e.index) || e.index < 0 || e.index > 0xffff) {
      throw new ChainError("BAD_PARAMS", `payload entry ${k}: bad peer index ${e.index}`);
    }
    if (k > 0 && sorted[k - 1].index === e.index) {
      throw new ChainError("BAD_PARAMS", `payload entry ${k}: peer index ${e.index} appears twice`);
    }
    const hex = e.hash.replace(/^0x/, "");
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new ChainError("BAD_PARAMS", `payload entry ${k}: hash is not 32 bytes`);
    const at = k * PAYLOAD_ENTRY_BYTES;
    out[at] = e.index >> 8;
    out[at + 1] = e.index & 0xff;
    out.set(hexToBytes(hex, `payload entry ${k}`), at + 2);
  });
  return out;
}

/** Inverse of encodePayloads (hashes as lowercase hex without 0x); null if the bytes are not a list. */
export function decodePayloads(bytes: Uint8Array): PayloadEntry[] | null {
  if (bytes.length % PAYLOAD_ENTRY_BYTES !== 0) return null;
  const out: PayloadEntry[] = [];
  for (let at = 0; at < bytes.length; at += PAYLOAD_ENTRY_BYTES) {
    out.push({
      index: (bytes[at] << 8) | bytes[at + 1],
      hash: bytesToHex(bytes.subarray(at + 2, at + PAYLOAD_ENTRY_BYTES)),
    });
  }
  return out;
}

/** keccak256 of the encoded payload list, 0x hex: the payload root the contract computes. */
export function payloadRoot(entries: readonly PayloadEntry[]): string {
  return keccak256(encodePayloads(entries));
}
