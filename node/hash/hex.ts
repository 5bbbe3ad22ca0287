import { HexError } from "./errors.ts";

const HEX = /^[0-9a-fA-F]*$/;

/** Lowercase hex of `b`, no 0x (the form the store, logs and model hashes use). */
export function bytesToHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

/**
 * Bytes of a hex string with or without 0x (ethers returns `bytes` event args as 0x hex). Throws
 * HexError NOT_HEX naming `field` on odd length or a non-hex digit (Buffer would silently truncate).
 */
export function hexToBytes(hex: string, field = "hex"): Uint8Array<ArrayBuffer> {
  const h = hex.startsWith("0x") || hex.startsWith("0X") ? hex.slice(2) : hex;
  if (h.length % 2 !== 0 || !HEX.test(h)) throw new HexError("NOT_HEX", field, `not a hex string: ${preview(hex)}`);
  return new Uint8Array(Buffer.from(h, "hex"));
}

/** The 0x form (what contracts and ethers take) of a hex string with or without 0x. */
export function with0x(hex: string): `0x${string}` {
  return hex.startsWith("0x") ? (hex as `0x${string}`) : `0x${hex}`;
}

/** At most 20 characters of untrusted input, for an error message. */
export function preview(s: string): string {
  return JSON.stringify(s.length > 20 ? `${s.slice(0, 20)}…` : s);
}
