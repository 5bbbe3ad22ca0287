/** Typed errors of the metrics module. */
export type MetricsErrorCode = "PORT_IN_USE" | "LISTEN_FAILED";

export class MetricsError extends Error {
  override name = "MetricsError";
  constructor(
    readonly code: MetricsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
