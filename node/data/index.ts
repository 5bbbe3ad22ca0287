export * from "./assign.ts";
export * from "./brown.ts";
export * from "./catalog.ts";
export * from "./dataset.ts";
export * from "./errors.ts";
export * from "./options.ts";
export * from "./tokenizer.ts";
