import { createHash } from "node:crypto";
import { HexError } from "./errors.ts";
import { bytesToHex, preview } from "./hex.ts";

declare const hash32Brand: unique symbol;

/**
 * A 32-byte hash (sha256 of a payload, blob or model; a block hash) in its one in-memory form: 64
 * lowercase hex digits without 0x. Branded so a string from the network or a file must pass
 * `parseHash32` (which names the field when it does not) before code treats it as a hash. The wire
 * form is 32 bytes (`hash32Bytes`), the chain form 0x-prefixed (`hash32To0x`).
 */
export type Hash32 = string & { readonly [hash32Brand]: true };

export const HASH32_BYTES = 32;
const HASH32_HEX = /^(0x)?[0-9a-fA-F]{64}$/;

/** A hash from 32 bytes or from hex (with or without 0x, any case); HexError naming `field` otherwise. */
export function parseHash32(value: string | Uint8Array, field: string): Hash32 {
  if (typeof value !== "string") {
    if (value.byteLength !== HASH32_BYTES)
      throw new HexError("WRONG_LENGTH", field, `${value.byteLength} bytes, want ${HASH32_BYTES}`);
    return bytesToHex(value) as Hash32;
  }
  if (!HASH32_HEX.test(value)) throw new HexError("NOT_HEX", field, `not a 32-byte hex hash: ${preview(value)}`);
  return value.slice(value.length - 64).toLowerCase() as Hash32;
}

/** True when `value` is a hash in the canonical form (64 lowercase hex digits, no 0x). */
export function isHash32(value: string): value is Hash32 {
  return /^[0-9a-f]{64}$/.test(value);
}

/** The wire form: 32 fresh bytes. */
export function hash32Bytes(h: Hash32): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(h, "hex"));
}

/** The chain form (bytes32 arguments, event values). */
export function hash32To0x(h: Hash32): `0x${string}` {
  return `0x${h}`;
}

/** sha256 of `data` as a Hash32. */
export function sha256(data: Uint8Array | string): Hash32 {
  return createHash("sha256").update(data).digest("hex") as Hash32;
}

/** sha256 of `data` as 32 bytes (wire comparisons). */
export function sha256Bytes(data: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

/** The hash of no data in particular: 32 zero bytes (an announcement's data digest when rebuilt). */
export const ZERO_HASH32 = "0".repeat(64) as Hash32;
