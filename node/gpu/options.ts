/**
 * Options of the WebGPU engine's device (everything about the model and the optimizer is the shared
 * EngineOptions of node/train). Defaults are what a peer on a GPU box runs.
 */
export interface GpuOptions {
  /**
   * Dawn toggles set once on the instance, adapter and device (dawn's node binding reads them from
   * its `enable-dawn-features` / `disable-dawn-features` flags). The speed set skips per-call validation
   * and the bounds clamps robustness adds to every storage access, leaves workgroup memory and new
   * buffers uninitialised (every kernel writes before it reads; the engine clears the Adam moments
   * itself), so a step is only our kernels. `safe` keeps dawn's defaults for debugging a kernel.
   */
  readonly toggles: "fast" | "safe";
  /** Accept a software adapter (Mesa's llvmpipe): tests and CI; `auto` never picks one. */
  readonly allowFallbackAdapter: boolean;
  /**
   * Steps the host may run ahead of the loss it has read back: the loss of step i is awaited after step
   * i+lag is submitted, so the GPU never idles on a readback. 1..4.
   */
  readonly readbackLag: number;
  /** Time each step's compute pass with timestamp queries (when the adapter has them): benchmarks. */
  readonly timestamps: boolean;
  /** Batches whose T is at most this take the simple attention kernels (no shared-memory tiles). */
  readonly simpleAttentionMaxT: number;
  /** Shape plans (activation buffers + bind groups per batch shape) kept; the least recent is freed. */
  readonly maxPlans: number;
}

export const defaultGpuOptions: GpuOptions = {
  toggles: "fast",
  allowFallbackAdapter: false,
  readbackLag: 2,
  timestamps: false,
  simpleAttentionMaxT: 32,
  maxPlans: 3,
};

/** The toggle sets (names from dawn's src/dawn/native/Toggles.cpp). */
export const DAWN_FAST_FLAGS = [
  "enable-dawn-features=skip_validation,disable_robustness,disable_workgroup_init,disable_lazy_clear_for_mapped_at_creation_buffer",
  "disable-dawn-features=lazy_clear_resource_on_first_use,timestamp_quantization",
];
