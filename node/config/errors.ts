import type { ZodError } from "zod";

/** A configuration problem, naming the offending field (dotted path) so the CLI can print one line. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }

  static fromZod(err: ZodError, prefix = ""): ConfigError {
    const issue = err.issues[0];
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join(".") || prefix || "config";
    return new ConfigError(path, issue.message);
  }
}
