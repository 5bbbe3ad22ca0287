export * from "./logger.ts";
export * from "./options.ts";
