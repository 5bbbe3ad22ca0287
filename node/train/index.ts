export * from "./adamw.ts";
export * from "./engine.ts";
export * from "./errors.ts";
export * from "./muon.ts";
export * from "./open.ts";
export * from "./options.ts";
export * from "./schedules.ts";
export * from "./types.ts";
