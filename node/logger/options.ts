import type { DestinationStream, Level } from "pino";

export interface LoggerOptions {
  level: Level;
  /** The process name, e.g. "peer" or "validator-0"; every line carries it. */
  name?: string;
  /**
   * Human-readable output through pino-pretty when it is installed (a dev convenience; it is not a
   * dependency), else the default one-JSON-object-per-line.
   */
  pretty: boolean;
  /** Append to this file instead of stderr (created with its directory). */
  file?: string;
  /** A destination stream (tests); wins over `file`. */
  destination?: DestinationStream;
}

export const defaultLoggerOptions: LoggerOptions = {
  level: "info",
  pretty: false,
};
