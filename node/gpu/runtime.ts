import { readFileSync } from "node:fs";
import { BufferUsage, type GpuDevice, MapModeRead, ShaderStageCompute } from "./device.ts";
import { GpuError } from "./errors.ts";

/** How a kernel sees each binding, in binding order (binding i of group 0). */
export type BindingKind = "uniform" | "read" | "rw";

/** WGSL `const` values injected ahead of a shader's source (model sizes, tile shapes, variant flags). */
export const u32 = (n: number): string => {
  if (!(Number.isInteger(n) && n >= 0 && n < 2 ** 32)) throw new RangeError(`u32 constant ${n}`);
  return `u32 = ${n}u`;
};
export const f32 = (x: number): string => {
  if (!Number.isFinite(x)) throw new RangeError(`f32 constant ${x}`);
  const s = String(Math.fround(x));
  return `f32 = ${/[.eE]/.test(s) ? s : `${s}.0`}`;
};
export const bool = (b: boolean): string => `bool = ${b}`;

export interface KernelSource {
  /** Cache key and pipeline label; equal keys must mean equal sources. */
  readonly key: string;
  /** WGSL files of node/gpu, concatenated in order (shared helpers first). */
  readonly files: readonly string[];
  readonly entry: string;
  readonly consts: Readonly<Record<string, string>>;
  readonly bindings: readonly BindingKind[];
}

export interface Kernel {
  readonly key: string;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
}

/** A recorded dispatch: pipeline, bind group and grid built once, replayed every step. */
export interface Dispatch {
  readonly label: string;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly x: number;
  readonly y: number;
  readonly z: number;
}

const sources = new Map<string, string>();
function wgsl(file: string): string {
  let s = sources.get(file);
  if (s === undefined) {
    s = readFileSync(new URL(`./${file}`, import.meta.url), "utf8");
    sources.set(file, s);
  }
  return s;
}

/** The WGSL text of a kernel (exported for tests that want to see what was compiled). */
export function kernelCode(src: KernelSource): string {
  const header = Object.entries(src.consts)
    .map(([k, v]) => `const ${k}: ${v};`)
    .join("\n");
  return `${header}\n${src.files.map(wgsl).join("\n")}`;
}

/** Max workgroups along one dispatch dimension (WebGPU's default limit, which every adapter has). */
export const MAX_GRID = 65535;

/** n workgroups as an x*y grid; kernels take id = wid.x + wid.y * nwg.x and skip id >= n. */
export function grid(n: number): [number, number] {
  if (n <= MAX_GRID) return [Math.max(1, n), 1];
  const y = Math.ceil(n / MAX_GRID);
  return [Math.ceil(n / y), y];
}

/**
 * The engine's handle on its device: compiled pipelines (each kernel variant compiled once), the
 * buffers it created (counted, so a test can see that dispose frees them all), and the two host
 * operations everything else is built from: submit a list of dispatches, read a buffer back.
 */
export class Runtime {
  readonly device: GPUDevice;
  private readonly kernels = new Map<string, Promise<Kernel>>();
  private readonly live = new Set<GPUBuffer>();
  /** A 16-byte buffer bound where a kernel variant ignores a binding. */
  readonly dummy: GPUBuffer;

  constructor(readonly gpu: GpuDevice) {
    this.device = gpu.device;
    this.dummy = this.buffer("dummy", 16, BufferUsage.STORAGE);
  }

  kernel(src: KernelSource): Promise<Kernel> {
    let k = this.kernels.get(src.key);
    if (!k) {
      k = this.compile(src);
      this.kernels.set(src.key, k);
    }
    return k;
  }

  private async compile(src: KernelSource): Promise<Kernel> {
    const d = this.device;
    const layout = d.createBindGroupLayout({
      label: src.key,
      entries: src.bindings.map((kind, binding) => ({
        binding,
        visibility: ShaderStageCompute,
        buffer: { type: kind === "uniform" ? "uniform" : kind === "read" ? "read-only-storage" : "storage" },
      })),
    });
    const module = d.createShaderModule({ label: src.key, code: kernelCode(src) });
    // Check the WGSL first: with validation skipped (fast toggles) an invalid module would crash dawn.
    const errors = (await module.getCompilationInfo()).messages.filter((m) => m.type === "error");
    if (errors.length)
      throw new GpuError(
        "GPU_ERROR",
        `kernel ${src.key}: ${errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join("; ")}`,
      );
    try {
      const pipeline = await d.createComputePipelineAsync({
        label: src.key,
        layout: d.createPipelineLayout({ label: src.key, bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: src.entry },
      });
      return { key: src.key, pipeline, layout };
    } catch (e) {
      throw new GpuError("GPU_ERROR", `kernel ${src.key}: ${(e as Error).message.split("\n")[0]}`);
    }
  }

  /** A buffer owned by this runtime (destroyed by destroyBuffer or destroy). */
  buffer(label: string, bytes: number, usage: number): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    const b = this.device.createBuffer({ label, size, usage });
    this.live.add(b);
    return b;
  }

  /** A storage buffer of `floats` 32-bit values that can be copied in and out. */
  storage(label: string, floats: number): GPUBuffer {
    return this.buffer(label, floats * 4, BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST);
  }

  destroyBuffer(b: GPUBuffer): void {
    if (this.live.delete(b)) b.destroy();
  }

  /** Buffers created and not yet destroyed (the leak test's measure). */
  get liveBuffers(): number {
    return this.live.size;
  }

  /** Records the dispatches into one compute pass and submits it. */
  run(dispatches: readonly Dispatch[], encoder = this.device.createCommandEncoder()): void {
    const pass = encoder.beginComputePass();
    encodeDispatches(pass, dispatches);
    pass.end();
    this.device.queue.submit([encoder.finish()]);
  }

  /** Copies `bytes` of `src` from `offset` into a fresh MAP_READ buffer and returns them. */
  async read(src: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    const staging = this.buffer("readback", bytes, BufferUsage.MAP_READ | BufferUsage.COPY_DST);
    try {
      const enc = this.device.createCommandEncoder();
      enc.copyBufferToBuffer(src, offset, staging, 0, Math.ceil(bytes / 4) * 4);
      this.device.queue.submit([enc.finish()]);
      await staging.mapAsync(MapModeRead);
      const out = staging.getMappedRange(0, Math.ceil(bytes / 4) * 4).slice(0, bytes);
      staging.unmap();
      return out;
    } finally {
      this.destroyBuffer(staging);
    }
  }

  async readFloats(src: GPUBuffer, offsetFloats: number, n: number): Promise<Float32Array> {
    return new Float32Array(await this.read(src, offsetFloats * 4, n * 4));
  }

  /**
   * Runs `fn` inside validation and out-of-memory error scopes and throws the first GPU error any call
   * in it caused (GpuError GPU_ERROR), or the device's loss. The engine serialises its calls, so no
   * other work interleaves with a scope.
   */
  async scoped<T>(what: string, fn: () => Promise<T>): Promise<T> {
    this.assertAlive();
    this.device.pushErrorScope("out-of-memory");
    this.device.pushErrorScope("validation");
    let result: T | undefined;
    let failure: { error: unknown } | null = null;
    try {
      result = await fn();
    } catch (error) {
      failure = { error };
    }
    // Both scopes are popped whatever happened; a GPU error explains more than what it caused.
    const errors = [await this.device.popErrorScope(), await this.device.popErrorScope()].filter((e) => e !== null);
    if (errors.length) throw new GpuError("GPU_ERROR", `${what}: ${errors[0]!.message.split("\n")[0]}`);
    if (failure) throw failure.error;
    this.assertAlive();
    return result as T;
  }

  /** Throws if the device was lost. */
  assertAlive(): void {
    const lost = this.gpu.lost();
    if (lost) throw new GpuError("DEVICE", lost);
  }

  destroy(): void {
    for (const b of this.live) b.destroy();
    this.live.clear();
    this.gpu.destroy();
  }
}

/** The hot loop of a step: three calls per dispatch, the pipeline set only when it changes. */
export function encodeDispatches(pass: GPUComputePassEncoder, dispatches: readonly Dispatch[]): void {
  let last: GPUComputePipeline | null = null;
  for (const d of dispatches) {
    if (d.pipeline !== last) {
      pass.setPipeline(d.pipeline);
      last = d.pipeline;
    }
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(d.x, d.y, d.z);
  }
}
