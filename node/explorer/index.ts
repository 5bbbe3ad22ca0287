export * from "./errors.ts";
export * from "./explorer.ts";
export * from "./model.ts";
export * from "./options.ts";
export * from "./persist.ts";
export * from "./server.ts";
