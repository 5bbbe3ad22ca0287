export * from "./backend.ts";
export * from "./checkpoint.ts";
export * from "./errors.ts";
export * from "./gpt.ts";
export * from "./options.ts";
export * from "./params.ts";
