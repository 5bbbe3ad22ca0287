import type { DestinationStream, Level } from "pino";

export interface LoggerOptions {
  level: Level;
  /** The process name, e.g. "peer" or "validator-0"; every line carries it. */
  name?: string;
  /**
   * Human-readable lines through pino-pretty instead of one JSON object per line. Unset: pretty when
   * writing to stderr and stderr is a terminal, JSON otherwise (files, pipes, the testnet's log files);
   * COTRAIN_LOG_FORMAT=json|pretty decides instead when set.
   */
  pretty?: boolean;
  /** Append to this file instead of stderr (created with its directory). */
  file?: string;
  /** A destination stream (tests); wins over `file`. */
  destination?: DestinationStream;
}

export const defaultLoggerOptions: LoggerOptions = {
  level: "info",
};

/** The default of `pretty`: COTRAIN_LOG_FORMAT when set, else whether `stream` is a terminal. */
export function prettyByDefault(
  env: NodeJS.ProcessEnv = process.env,
  stream: { isTTY?: boolean } = process.stderr,
): boolean {
  if (env.COTRAIN_LOG_FORMAT === "json") return false;
  if (env.COTRAIN_LOG_FORMAT === "pretty") return true;
  return stream.isTTY === true;
}
