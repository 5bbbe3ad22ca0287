import { StoreError } from "./errors.ts";

/** Key and value codecs shared by the repositories. Keys sort bytewise, so integers are big-endian. */

const utf8 = new TextEncoder();
const utf8d = new TextDecoder("utf-8", { fatal: true });
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function key(bucket: number, ...parts: Uint8Array[]): Uint8Array {
  let len = 1;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  out[0] = bucket;
  let o = 1;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** [bucket, bucket+1): every key of one bucket. */
export function bucketRange(bucket: number): { gte: Uint8Array; lt: Uint8Array } {
  return { gte: Uint8Array.of(bucket), lt: Uint8Array.of(bucket + 1) };
}

/** Every key starting with `prefix`. */
export function prefixRange(prefix: Uint8Array): { gte: Uint8Array; lt: Uint8Array } {
  const lt = prefix.slice();
  for (let i = lt.length - 1; i >= 0; i--) {
    if (lt[i] < 0xff) {
      lt[i]++;
      return { gte: prefix, lt: lt.subarray(0, i + 1) };
    }
  }
  throw new RangeError("prefix of all 0xff has no upper bound");
}

export function u32(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`not a u32: ${n}`);
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, false);
  return b;
}

export function readU32(b: Uint8Array, offset = 0): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(offset, false);
}

export function u64(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a safe non-negative integer: ${n}`);
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), false);
  return b;
}

export function readU64(b: Uint8Array): number {
  if (b.length !== 8) throw new StoreError("CORRUPT_RECORD", `u64 value has ${b.length} bytes`);
  return Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, false));
}

export function str(s: string): Uint8Array {
  return utf8.encode(s);
}

export function readStr(b: Uint8Array): string {
  return utf8d.decode(b);
}

export function json(value: unknown): Uint8Array {
  return utf8.encode(JSON.stringify(value));
}

export function readJson<T>(b: Uint8Array, what: string): T {
  try {
    return JSON.parse(utf8d.decode(b)) as T;
  } catch (cause) {
    throw new StoreError("CORRUPT_RECORD", `cannot decode ${what}`, { cause });
  }
}

/**
 * Float32Array -> raw little-endian bytes (the byte order the model hash uses). A copy, so later writes
 * to the caller's array cannot change what a pending batch stores.
 */
export function f32ToBytes(a: Float32Array): Uint8Array {
  const out = new Uint8Array(a.byteLength);
  if (HOST_LE) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  } else {
    const dv = new DataView(out.buffer);
    for (let i = 0; i < a.length; i++) dv.setFloat32(i * 4, a[i], true);
  }
  return out;
}

/** Raw little-endian bytes -> a fresh, aligned Float32Array (bit-exact: NaN payloads and -0 survive). */
export function bytesToF32(b: Uint8Array, what: string): Float32Array {
  if (b.byteLength % 4 !== 0)
    throw new StoreError("CORRUPT_RECORD", `${what}: ${b.byteLength} bytes is not a float32 array`);
  const out = new Float32Array(b.byteLength / 4);
  if (HOST_LE) {
    new Uint8Array(out.buffer).set(b);
  } else {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
  }
  return out;
}
