export * from "./aggregate.ts";
export * from "./codec.ts";
export * from "./compress.ts";
export * from "./diloco.ts";
export * from "./errors.ts";
export * from "./hash.ts";
export { type ChunkLayout, chunkLayout, largestDivisorAtMost } from "./layout.ts";
export * from "./options.ts";
export * from "./types.ts";
