import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  HexError,
  bytesToHex,
  hash32Bytes,
  hash32To0x,
  hexToBytes,
  isHash32,
  parseHash32,
  sha256,
  sha256Bytes,
  with0x,
} from "../../node/hash/index.ts";

/** The one 32-byte hash vocabulary (node/hash): every form converts to the canonical one and back. */
describe("hash vocabulary", () => {
  const h = sha256("abc");

  it("sha256 gives the canonical form (64 lowercase hex, no 0x), bytes agree", () => {
    assert.equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"); // FIPS 180-2 test vector
    assert.ok(isHash32(h));
    assert.equal(bytesToHex(sha256Bytes(new TextEncoder().encode("abc"))), h);
  });

  it("parses 0x, upper-case and 32-byte forms to the same hash; round-trips wire and chain forms", () => {
    assert.equal(parseHash32(`0x${h.toUpperCase()}`, "x"), h);
    assert.equal(parseHash32(hash32Bytes(h), "x"), h);
    assert.equal(hash32To0x(h), `0x${h}`);
    assert.equal(parseHash32(hash32To0x(h), "x"), h);
  });

  it("rejects a malformed hash with a typed error naming the field", () => {
    for (const bad of ["", "0x", h.slice(1), `${h}00`, `zz${h.slice(2)}`]) {
      assert.throws(
        () => parseHash32(bad, "announcement.payloadHash"),
        (e: unknown) => e instanceof HexError && e.code === "NOT_HEX" && /^announcement\.payloadHash: /.test(e.message),
      );
    }
    assert.throws(
      () => parseHash32(new Uint8Array(31), "modelHash"),
      (e: unknown) => e instanceof HexError && e.code === "WRONG_LENGTH" && e.field === "modelHash",
    );
  });

  it("hexToBytes takes both forms and refuses odd lengths and non-hex digits (Buffer would truncate)", () => {
    assert.deepEqual(hexToBytes("0x0a0B"), new Uint8Array([10, 11]));
    assert.deepEqual(hexToBytes("0a0b"), new Uint8Array([10, 11]));
    assert.deepEqual(hexToBytes("0x"), new Uint8Array(0));
    assert.throws(
      () => hexToBytes("0x0a0", "bitmap"),
      (e: unknown) => e instanceof HexError && e.field === "bitmap",
    );
    assert.throws(() => hexToBytes("0xgg", "bitmap"), HexError);
    assert.equal(with0x("ab"), "0xab");
    assert.equal(with0x("0xab"), "0xab");
  });
});
