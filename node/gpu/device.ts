import { explainNoAdapter, probeSystem } from "./diagnose.ts";
import { GpuError } from "./errors.ts";
import { DAWN_FAST_FLAGS, type GpuOptions } from "./options.ts";

/** WebGPU's numeric flags (fixed by the spec), so nothing depends on dawn's globals being installed. */
export const BufferUsage = {
  MAP_READ: 0x1,
  COPY_SRC: 0x4,
  COPY_DST: 0x8,
  UNIFORM: 0x40,
  STORAGE: 0x80,
  QUERY_RESOLVE: 0x200,
} as const;
export const MapModeRead = 0x1;
export const ShaderStageCompute = 0x4;

/** What doctor and the benchmark print about the adapter. */
export interface AdapterReport {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  /** A software adapter (Mesa's llvmpipe): correct, but ~1 GFLOP/s. */
  readonly isFallbackAdapter: boolean;
  readonly features: string[];
  readonly limits: Record<string, number>;
}

/** The limits the engine raises from WebGPU's defaults to what the adapter offers. */
const WANTED_LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupsPerDimension",
] as const;

export interface GpuDevice {
  readonly instance: GPU;
  readonly device: GPUDevice;
  readonly adapter: AdapterReport;
  readonly timestamps: boolean;
  /** The first uncaptured GPU error since the last call (validation, out of memory), or null. */
  takeError(): string | null;
  destroy(): void;
}

type DawnModule = { create(flags: string[]): GPU };

async function loadDawn(): Promise<DawnModule> {
  try {
    return (await import("webgpu")) as unknown as DawnModule;
  } catch (e) {
    throw new GpuError("NO_ADAPTER", `dawn (npm webgpu) did not load: ${(e as Error).message.split("\n")[0]}`);
  }
}

/** The adapter's identity, features and limits (a plain object: GPUSupportedLimits has getters only). */
export function adapterReport(adapter: GPUAdapter): AdapterReport {
  const info = adapter.info;
  const limits: Record<string, number> = {};
  for (const k of WANTED_LIMITS) limits[k] = Number(adapter.limits[k]);
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    features: [...adapter.features].map(String).sort(),
    limits,
  };
}

/**
 * Opens dawn's adapter and a device with the adapter's full limits and the speed toggles set once. A
 * missing adapter is a GpuError NO_ADAPTER whose message explains the likely cause (diagnose.ts).
 */
export async function openGpu(opts: GpuOptions): Promise<GpuDevice> {
  const dawn = await loadDawn();
  const gpu = dawn.create(opts.toggles === "fast" ? DAWN_FAST_FLAGS : []);
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new GpuError("NO_ADAPTER", `no WebGPU adapter: ${explainNoAdapter(probeSystem()).join("; ")}`);
  const report = adapterReport(adapter);
  if (report.isFallbackAdapter && !opts.allowFallbackAdapter) {
    throw new GpuError(
      "NO_ADAPTER",
      `only a software WebGPU adapter (${report.description}); no GPU was found: ${explainNoAdapter(probeSystem()).join("; ")}`,
    );
  }
  const requiredLimits: Record<string, number> = {};
  for (const k of WANTED_LIMITS) requiredLimits[k] = report.limits[k];
  const timestamps = opts.timestamps && adapter.features.has("timestamp-query");
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      requiredLimits,
      requiredFeatures: timestamps ? ["timestamp-query"] : [],
    });
  } catch (e) {
    throw new GpuError("DEVICE", `requestDevice on ${report.description}: ${(e as Error).message.split("\n")[0]}`);
  }
  let error: string | null = null;
  let destroyed = false;
  device.onuncapturederror = (ev) => {
    error ??= (ev as GPUUncapturedErrorEvent).error.message.split("\n")[0];
  };
  device.lost.then((info) => {
    if (!destroyed) error ??= `device lost: ${info.message || info.reason}`;
  });
  return {
    // dawn's instance must outlive the device: once the GPU object is garbage-collected, pending
    // async work (pipeline compiles, maps) crashes the process.
    instance: gpu,
    device,
    adapter: report,
    timestamps,
    takeError() {
      const e = error;
      error = null;
      return e;
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      device.destroy();
    },
  };
}
