export * from "./errors.ts";
export * from "./node-config.ts";
export * from "./run-config.ts";
export * from "./stages.ts";
