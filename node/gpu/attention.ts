import type { Recorder } from "./recorder.ts";
import { f32, grid, type KernelSource, type Runtime, u32 } from "./runtime.ts";

/** Query rows per tiled workgroup (one thread each). */
const BQ = 64;

export interface AttentionShape {
  readonly nHead: number;
  readonly nEmbd: number;
  /** Sequences of at most this length take the simple kernels (options.simpleAttentionMaxT). */
  readonly simpleMaxT: number;
}

export interface AttentionForwardOp {
  readonly B: number;
  readonly T: number;
  readonly qkv: GPUBuffer;
  readonly y: GPUBuffer;
  /** [B, NH, T] log-sum-exp of each query row's scores. */
  readonly lse: GPUBuffer;
  readonly label: string;
}

export interface AttentionBackwardOp extends AttentionForwardOp {
  readonly dy: GPUBuffer;
  readonly dqkv: GPUBuffer;
  /** [B, NH, T] scratch: D = rowsum(dO * O). */
  readonly dsum: GPUBuffer;
}

/** Causal attention forward and backward (attention.wgsl). */
export class AttentionKernels {
  private readonly hd: number;
  private readonly tile: number;

  constructor(
    private readonly rt: Runtime,
    private readonly shape: AttentionShape,
  ) {
    this.hd = shape.nEmbd / shape.nHead;
    // Two [TILE, HD] f32 tiles in at most 8 KiB (half the 16 KiB every adapter has), 4..64 rows.
    const budget = Math.min(rt.device.limits.maxComputeWorkgroupStorageSize, 16384) / 2;
    this.tile = Math.max(4, Math.min(64, 2 ** Math.floor(Math.log2(budget / (8 * this.hd)))));
  }

  /** Which path a sequence length takes. */
  simple(T: number): boolean {
    return T <= this.shape.simpleMaxT;
  }

  private source(entry: string, bindings: KernelSource["bindings"]): KernelSource {
    return {
      key: `attention/${entry}/h${this.shape.nHead}x${this.hd}/t${this.tile}`,
      files: ["attention.wgsl"],
      entry,
      consts: {
        HD: u32(this.hd),
        NH: u32(this.shape.nHead),
        C: u32(this.shape.nEmbd),
        BQ: u32(BQ),
        TILE: u32(this.tile),
        SCALE: f32(1 / Math.sqrt(this.hd)),
      },
      bindings,
    };
  }

  private grid(B: number, T: number, simple: boolean): number[] {
    return simple ? grid(Math.ceil((B * this.shape.nHead * T) / 64)) : [Math.ceil(T / BQ), this.shape.nHead, B];
  }

  async forward(rec: Recorder, op: AttentionForwardOp): Promise<void> {
    const simple = this.simple(op.T);
    const k = await this.rt.kernel(
      this.source(simple ? "forward_simple" : "forward_tiled", ["uniform", "read", "rw", "rw"]),
    );
    rec.add(k, [rec.uniform([op.B, op.T]), op.qkv, op.y, op.lse], this.grid(op.B, op.T, simple), op.label);
  }

  /** dq first (it also writes D), then dk/dv. */
  async backward(rec: Recorder, op: AttentionBackwardOp): Promise<void> {
    const simple = this.simple(op.T);
    const suffix = simple ? "simple" : "tiled";
    const dq = await this.rt.kernel(
      this.source(`backward_dq_${suffix}`, ["uniform", "read", "read", "read", "read", "rw", "rw"]),
    );
    const dkv = await this.rt.kernel(
      this.source(`backward_dkv_${suffix}`, ["uniform", "read", "read", "read", "read", "rw", "read"]),
    );
    const uni = rec.uniform([op.B, op.T]);
    const g = this.grid(op.B, op.T, simple);
    rec.add(dq, [uni, op.qkv, op.y, op.lse, op.dy, op.dqkv, op.dsum], g, `${op.label}/dq`);
    rec.add(dkv, [uni, op.qkv, this.rt.dummy, op.lse, op.dy, op.dqkv, op.dsum], g, `${op.label}/dkv`);
  }
}
