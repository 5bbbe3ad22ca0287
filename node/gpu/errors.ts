/** Typed errors of the WebGPU engine; `code` is stable for callers and tests. */
export type GpuErrorCode =
  /** No WebGPU adapter (or only a software one where a real GPU was wanted); the message says why. */
  | "NO_ADAPTER"
  /** The adapter lacks a limit the model needs (e.g. a storage binding too small for a tensor). */
  | "LIMITS"
  /** requestDevice failed or the device was lost. */
  | "DEVICE"
  /** A GPU command failed validation or ran out of memory (reported by dawn). */
  | "GPU_ERROR";

export class GpuError extends Error {
  override name = "GpuError";
  constructor(
    readonly code: GpuErrorCode,
    message: string,
  ) {
    super(message);
  }
}
