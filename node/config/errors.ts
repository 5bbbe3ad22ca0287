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

  /**
   * The first issue, as one line. A missing field next to an unknown key at the same level is most
   * likely a misspelling (`rpcUrl` for `rpc`), so the unknown key is named in the same line.
   */
  static fromZod(err: ZodError, prefix = ""): ConfigError {
    const issue = err.issues[0];
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join(".") || prefix || "config";
    if (issue.message === "Required") {
      const parent = issue.path.slice(0, -1).join(".");
      const unknown = err.issues.find(
        (i) => i.code === "unrecognized_keys" && i.path.join(".") === parent && i.keys.length > 0,
      );
      if (unknown?.code === "unrecognized_keys") {
        const keys = unknown.keys.map((k) => `"${k}"`).join(", ");
        return new ConfigError(path, `Required (found unknown key ${keys}: a misspelling?)`);
      }
    }
    return new ConfigError(path, issue.message);
  }
}
