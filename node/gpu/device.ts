import { createRequire } from "node:module";
import path from "node:path";
// The WebGPU type declarations (GPUDevice, ...) come with the package; the binding is loaded below.
import type {} from "webgpu";
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
  /** Why the device was lost (driver reset, out of memory), or null while it is fine. */
  lost(): string | null;
  destroy(): void;
}

type DawnModule = { create(flags: string[]): GPU };

/**
 * dawn's native binding, loaded directly rather than through the package's index.js: webgpu 0.6.2's
 * index.js registers every buffer with a FinalizationRegistry (to unmap on device.destroy), and when
 * the garbage collector later collects a buffer the process segfaults (reproduced on Node 22: create a
 * buffer, drop it, gc()). The engine unmaps everything it maps itself, so it needs none of that.
 */
function loadDawn(): DawnModule {
  const require = createRequire(import.meta.url);
  try {
    const dir = path.dirname(require.resolve("webgpu/package.json"));
    const arch = process.platform === "darwin" ? "universal" : process.arch;
    return require(path.join(dir, "dist", `${process.platform}-${arch}`, "dawn.node")) as DawnModule;
  } catch (e) {
    throw new GpuError(
      "NO_ADAPTER",
      `dawn (npm webgpu) has no binary for ${process.platform}-${process.arch} or did not load: ${(e as Error).message.split("\n")[0]}`,
    );
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
  const dawn = loadDawn();
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
  // GPU errors are caught with error scopes around each engine call (runtime.ts), not with an
  // onuncapturederror handler: dawn.node 0.6.2 segfaults when it garbage-collects a device that has one.
  let lostReason: string | null = null;
  let destroyed = false;
  device.lost.then((info) => {
    if (!destroyed) lostReason = `device lost: ${info.message || info.reason}`;
  });
  return {
    // dawn's instance must outlive the device: once the GPU object is garbage-collected, pending
    // async work (pipeline compiles, maps) crashes the process.
    instance: gpu,
    device,
    adapter: report,
    timestamps,
    lost: () => lostReason,
    destroy() {
      if (destroyed) return;
      destroyed = true;
      device.destroy();
    },
  };
}
