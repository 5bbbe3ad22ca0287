export * from "./errors.ts";
export * from "./hash32.ts";
export { bytesToHex, hexToBytes, with0x } from "./hex.ts";
