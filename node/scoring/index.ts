export * from "./combine.ts";
export * from "./errors.ts";
export * from "./gain.ts";
export * from "./options.ts";
export * from "./overlap.ts";
export * from "./ratings.ts";
export * from "./sync.ts";
export * from "./validity.ts";
