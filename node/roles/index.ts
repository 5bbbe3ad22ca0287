export * from "./context.ts";
export * from "./errors.ts";
export * from "./hooks.ts";
export * from "./options.ts";
export * from "./peer.ts";
export * from "./services.ts";
export * from "./state-store.ts";
export * from "./validator.ts";
