export * from "./errors.ts";
export * from "./metrics.ts";
export * from "./options.ts";
export * from "./server.ts";
