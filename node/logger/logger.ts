import { pino, type Logger } from "pino";
import { defaultLoggerOptions, type LoggerOptions, prettyByDefault } from "./options.ts";

export type { Logger } from "pino";

/**
 * A pino logger: one JSON object per line on stderr (stdout stays free for command output) or in a file;
 * on a terminal, human-readable lines through pino-pretty (options.pretty). JSON writes are synchronous
 * so the last lines before a crash or SIGKILL are not lost in a buffer; at our rate (a few lines per
 * phase per round) the cost is negligible (pretty output goes through pino's transport worker, which is
 * fine for a person watching). Modules take `logger.child({ module: "store" })`, as Lodestar does. Do
 * not log untrusted network data at info or above (Lodestar's rule): log its hash or size.
 */
export function createLogger(opts: Partial<LoggerOptions> = {}): Logger {
  const options: LoggerOptions = { ...defaultLoggerOptions, ...opts };
  const base = {
    level: options.level,
    ...(options.name !== undefined ? { name: options.name } : {}),
    // ISO time is what operators grep for; pino's default is epoch ms.
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (options.destination) return pino(base, options.destination);
  if (options.pretty ?? (options.file === undefined && prettyByDefault())) {
    // pino-pretty in pino's transport worker: colours and local times for a person at a terminal.
    return pino({
      ...base,
      transport: { target: "pino-pretty", options: { destination: options.file ?? 2, mkdir: true } },
    });
  }
  return pino(base, pino.destination({ dest: options.file ?? 2, sync: true, mkdir: true }));
}
