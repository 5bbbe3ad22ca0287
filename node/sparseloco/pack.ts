/**
 * Bit packing of the wire format (Templar `pack_12bit_indices`, covenant-facts §1): two 12-bit indices in
 * 3 bytes (b0 = i1 & 0xFF, b1 = (i1 >> 8) | (i2 & 0xF) << 4, b2 = i2 >> 4; an odd count is padded with a
 * zero index) and four 2-bit codes per byte, first value in the low bits (unused high bits zero).
 */
export function packedIndexBytes(count: number): number {
  return Math.ceil(count / 2) * 3;
}

export function packedCodeBytes(count: number): number {
  return Math.ceil(count / 4);
}

export function pack12(idx: Uint16Array): Uint8Array {
  const n = idx.length;
  const out = new Uint8Array(packedIndexBytes(n));
  const pairs = n >> 1;
  let o = 0;
  for (let p = 0; p < pairs; p++) {
    const a = idx[2 * p];
    const b = idx[2 * p + 1];
    out[o] = a & 0xff;
    out[o + 1] = ((a >> 8) & 0xf) | ((b & 0xf) << 4);
    out[o + 2] = (b >> 4) & 0xff;
    o += 3;
  }
  if (n & 1) {
    const a = idx[n - 1];
    out[o] = a & 0xff;
    out[o + 1] = (a >> 8) & 0xf;
  }
  return out;
}

/** Unpacks `count` indices; returns false if the padding of an odd count is not zero. */
export function unpack12(bytes: Uint8Array, count: number, out: Uint16Array): boolean {
  const pairs = count >> 1;
  let o = 0;
  for (let p = 0; p < pairs; p++) {
    const b0 = bytes[o];
    const b1 = bytes[o + 1];
    const b2 = bytes[o + 2];
    out[2 * p] = b0 | ((b1 & 0xf) << 8);
    out[2 * p + 1] = (b1 >> 4) | (b2 << 4);
    o += 3;
  }
  if (count & 1) {
    const b1 = bytes[o + 1];
    out[count - 1] = bytes[o] | ((b1 & 0xf) << 8);
    return b1 >> 4 === 0 && bytes[o + 2] === 0;
  }
  return true;
}

export function pack2(codes: Uint8Array): Uint8Array {
  const n = codes.length;
  const out = new Uint8Array(packedCodeBytes(n));
  const full = n >> 2;
  for (let q = 0; q < full; q++) {
    const j = q << 2;
    out[q] = (codes[j] & 3) | ((codes[j + 1] & 3) << 2) | ((codes[j + 2] & 3) << 4) | ((codes[j + 3] & 3) << 6);
  }
  for (let j = full << 2; j < n; j++) out[j >> 2] |= (codes[j] & 3) << ((j & 3) << 1);
  return out;
}

/** Unpacks `count` codes; returns false if the unused bits of the last byte are not zero. */
export function unpack2(bytes: Uint8Array, count: number, out: Uint8Array): boolean {
  const full = count >> 2;
  for (let q = 0; q < full; q++) {
    const b = bytes[q];
    const j = q << 2;
    out[j] = b & 3;
    out[j + 1] = (b >> 2) & 3;
    out[j + 2] = (b >> 4) & 3;
    out[j + 3] = b >> 6;
  }
  const rest = count & 3;
  if (rest === 0) return true;
  const b = bytes[full];
  for (let r = 0; r < rest; r++) out[(full << 2) + r] = (b >> (r << 1)) & 3;
  return b >> (rest << 1) === 0;
}
