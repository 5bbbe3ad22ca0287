import type { EngineOptions } from "../train/options.ts";
import type { AdamWState } from "../train/types.ts";
import { BufferUsage } from "./device.ts";
import type { ParamLayout } from "./layout.ts";
import type { Recorder } from "./recorder.ts";
import { grid, type Runtime } from "./runtime.ts";

/** Values per chunk of the multi-tensor update (256 threads x 16). */
const CHUNK = 4096;

/**
 * The chunk table: (start, len, decay, 0) per chunk, chunks never crossing a tensor. Decoupled weight
 * decay goes to 2-D parameters only (not biases, not LayerNorm gains), as in the tfjs engine.
 */
export function chunkTable(layout: ParamLayout): Uint32Array<ArrayBuffer> {
  const rows: number[] = [];
  for (const s of layout.slots) {
    const decay = s.shape.length === 2 ? 1 : 0;
    for (let i = 0; i < s.size; i += CHUNK) rows.push(s.offset + i, Math.min(CHUNK, s.size - i), decay, 0);
  }
  return Uint32Array.from(rows);
}

/**
 * The engine's inner optimizer on the GPU. AdamW is the only one today; another (Muon's Newton-Schulz
 * orthogonalisation of 2-D updates) implements the same: its kernels after the clip, its per-step
 * scalars written before each submission, its state in and out.
 */
export interface GpuOptimizer {
  record(rec: Recorder, bufs: { params: GPUBuffer; grads: GPUBuffer; stats: GPUBuffer }): Promise<void>;
  /** Writes the next step's scalars (lr of the global step; bias corrections). Call once per step. */
  beginStep(lr: number): void;
  readState(): Promise<AdamWState>;
  writeState(state: AdamWState): void;
  reset(): void;
}

/** Multi-tensor AdamW (adamw.wgsl): moments in the flat layout, one dispatch per step. */
export class GpuAdamW implements GpuOptimizer {
  private readonly m: GPUBuffer;
  private readonly v: GPUBuffer;
  private readonly table: GPUBuffer;
  private readonly step: GPUBuffer;
  private readonly chunks: number;
  private t = 0;

  constructor(
    private readonly rt: Runtime,
    private readonly layout: ParamLayout,
    private readonly o: EngineOptions,
  ) {
    this.m = rt.storage("adamw/m", layout.total);
    this.v = rt.storage("adamw/v", layout.total);
    const rows = chunkTable(layout);
    this.chunks = rows.length / 4;
    this.table = rt.buffer("adamw/chunks", rows.byteLength, BufferUsage.STORAGE | BufferUsage.COPY_DST);
    rt.device.queue.writeBuffer(this.table, 0, rows);
    this.step = rt.buffer("adamw/step", 64, BufferUsage.UNIFORM | BufferUsage.COPY_DST);
    this.reset();
  }

  async record(rec: Recorder, bufs: { params: GPUBuffer; grads: GPUBuffer; stats: GPUBuffer }): Promise<void> {
    const k = await this.rt.kernel({
      key: "adamw",
      files: ["adamw.wgsl"],
      entry: "main",
      consts: {},
      bindings: ["uniform", "read", "read", "read", "rw", "rw", "rw"],
    });
    rec.add(
      k,
      [this.step, this.table, bufs.stats, bufs.grads, bufs.params, this.m, this.v],
      grid(this.chunks),
      "adamw",
    );
  }

  beginStep(lr: number): void {
    this.t++;
    const o = this.o;
    const buf = new ArrayBuffer(64);
    const f = new Float32Array(buf);
    // Host doubles rounded once to f32, as the tfjs engine's scalars are.
    f.set([
      lr,
      o.beta1,
      1 - o.beta1,
      o.beta2,
      1 - o.beta2,
      o.eps,
      1 - lr * o.weightDecay,
      1 - o.beta1 ** this.t,
      1 - o.beta2 ** this.t,
    ]);
    new Uint32Array(buf)[9] = this.chunks;
    this.rt.device.queue.writeBuffer(this.step, 0, buf);
  }

  async readState(): Promise<AdamWState> {
    const m = await this.rt.readFloats(this.m, 0, this.layout.total);
    const v = await this.rt.readFloats(this.v, 0, this.layout.total);
    return { step: this.t, m: this.layout.unpack(m), v: this.layout.unpack(v) };
  }

  writeState(state: AdamWState): void {
    // Both packed (and checked) before either is written: a bad state changes nothing.
    const m = this.layout.pack(state.m);
    const v = this.layout.pack(state.v);
    const q = this.rt.device.queue;
    q.writeBuffer(this.m, 0, m);
    q.writeBuffer(this.v, 0, v);
    this.t = state.step;
  }

  /** Zero moments (explicitly: the engine turns dawn's lazy zero-fill of new buffers off). */
  reset(): void {
    const enc = this.rt.device.createCommandEncoder();
    enc.clearBuffer(this.m);
    enc.clearBuffer(this.v);
    this.rt.device.queue.submit([enc.finish()]);
    this.t = 0;
  }
}
