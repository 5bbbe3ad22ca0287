export * from "./errors.ts";
export * from "./identity.ts";
export * from "./keystore.ts";
export * from "./key-file.ts";
