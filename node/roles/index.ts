export * from "./context.ts";
export * from "./errors.ts";
export * from "./model-state.ts";
export * from "./options.ts";
export * from "./peer.ts";
export * from "./validator.ts";
