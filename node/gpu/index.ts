export * from "./device.ts";
export * from "./diagnose.ts";
export * from "./engine.ts";
export * from "./errors.ts";
export * from "./options.ts";
export * from "./probe.ts";
