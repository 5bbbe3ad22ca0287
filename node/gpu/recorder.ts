import { BufferUsage } from "./device.ts";
import type { Dispatch, Kernel, Runtime } from "./runtime.ts";

/** A uniform field: plain numbers are u32, `F(x)` is an f32. */
export type UniformField = number | { readonly f: number };
export const F = (x: number): { readonly f: number } => ({ f: x });

/** A kernel's uniform block, placed in the plan's uniform buffer when the recording is finished. */
export interface UniformSlot {
  readonly slot: number;
}
export type Resource = GPUBuffer | UniformSlot;

/** Every uniform block gets 256 bytes: the largest minUniformBufferOffsetAlignment WebGPU allows. */
const SLOT_BYTES = 256;

/**
 * Builds a fixed list of dispatches: each kernel call gets its uniform block (shapes, offsets) and its
 * bind group once, here, so replaying the list in a step costs only setPipeline/setBindGroup/dispatch.
 */
export class Recorder {
  private readonly slots: ArrayBuffer[] = [];
  private readonly pending: Array<{
    kernel: Kernel;
    resources: Resource[];
    grid: readonly number[];
    label: string;
  }> = [];

  constructor(
    private readonly rt: Runtime,
    private readonly label: string,
  ) {}

  uniform(fields: readonly UniformField[]): UniformSlot {
    if (fields.length > SLOT_BYTES / 4) throw new RangeError("uniform block too large");
    const buf = new ArrayBuffer(SLOT_BYTES);
    const u = new Uint32Array(buf);
    const f = new Float32Array(buf);
    fields.forEach((v, i) => {
      if (typeof v === "number") {
        if (!(Number.isInteger(v) && v >= 0 && v < 2 ** 32)) throw new RangeError(`uniform u32 field ${i} = ${v}`);
        u[i] = v;
      } else f[i] = v.f;
    });
    this.slots.push(buf);
    return { slot: this.slots.length - 1 };
  }

  add(kernel: Kernel, resources: Resource[], grid: readonly number[], label: string): void {
    this.pending.push({ kernel, resources, grid, label });
  }

  get size(): number {
    return this.pending.length;
  }

  /** Uploads the uniform blocks (one buffer, handed to `own`) and creates every bind group. */
  finish(own: (b: GPUBuffer) => void): Dispatch[] {
    const ub = this.rt.buffer(
      `${this.label}/uniforms`,
      Math.max(1, this.slots.length) * SLOT_BYTES,
      BufferUsage.UNIFORM | BufferUsage.COPY_DST,
    );
    own(ub);
    const all = new Uint8Array(Math.max(1, this.slots.length) * SLOT_BYTES);
    this.slots.forEach((s, i) => {
      all.set(new Uint8Array(s), i * SLOT_BYTES);
    });
    this.rt.device.queue.writeBuffer(ub, 0, all);
    return this.pending.map((p) => ({
      label: p.label,
      pipeline: p.kernel.pipeline,
      bindGroup: this.rt.device.createBindGroup({
        label: p.label,
        layout: p.kernel.layout,
        entries: p.resources.map((r, binding) =>
          "slot" in r
            ? { binding, resource: { buffer: ub, offset: r.slot * SLOT_BYTES, size: SLOT_BYTES } }
            : { binding, resource: { buffer: r } },
        ),
      }),
      x: p.grid[0],
      y: p.grid[1] ?? 1,
      z: p.grid[2] ?? 1,
    }));
  }
}
