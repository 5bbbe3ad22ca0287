import type { Recorder } from "./recorder.ts";
import { f32, grid, type KernelSource, type Runtime, u32 } from "./runtime.ts";

/** Rows per backward chunk: at most ~256 chunks, so the partial sums stay small and parallel. */
export function lnChunking(rows: number): { rowsPerChunk: number; chunks: number } {
  const rowsPerChunk = Math.max(4, Math.ceil(rows / 256));
  return { rowsPerChunk, chunks: Math.ceil(rows / rowsPerChunk) };
}

export interface LnForwardOp {
  readonly label: string;
  readonly rows: number;
  readonly x: GPUBuffer;
  /** Flat parameter buffer; the gain is at gOff, the bias right after it (spec order). */
  readonly params: GPUBuffer;
  readonly gOff: number;
  readonly y: GPUBuffer;
  /** [rows, 2]: mean and 1/std of each row. */
  readonly stats: GPUBuffer;
}

export interface LnBackwardOp {
  readonly label: string;
  readonly rows: number;
  readonly x: GPUBuffer;
  readonly params: GPUBuffer;
  readonly gOff: number;
  readonly dy: GPUBuffer;
  readonly stats: GPUBuffer;
  /** Residual-stream gradient [rows, C]: dx is added to it (`accumulate`) or written into it. */
  readonly dres: GPUBuffer;
  readonly accumulate: boolean;
  /** Partial dg/db sums, [chunks, 2, C] at partOff. */
  readonly part: GPUBuffer;
  readonly partOff: number;
}

/** Fused LayerNorm (layernorm.wgsl) for rows of width C. */
export class LayerNormKernels {
  private readonly wg: number;

  constructor(
    private readonly rt: Runtime,
    private readonly C: number,
    private readonly eps: number,
  ) {
    // About four columns per thread, 32..256 threads.
    this.wg = Math.min(256, Math.max(32, 2 ** Math.ceil(Math.log2(Math.ceil(C / 4)))));
  }

  private source(entry: string, bindings: KernelSource["bindings"]): KernelSource {
    return {
      key: `layernorm/${entry}/C${this.C}`,
      files: ["reduce.wgsl", "layernorm.wgsl"],
      entry,
      consts: { C: u32(this.C), WG: u32(this.wg), CPT: u32(Math.ceil(this.C / this.wg)), EPS: f32(this.eps) },
      bindings,
    };
  }

  async forward(rec: Recorder, op: LnForwardOp): Promise<void> {
    const k = await this.rt.kernel(this.source("forward", ["uniform", "read", "read", "rw", "rw"]));
    const uni = rec.uniform([op.rows, 0, 0, op.gOff, 0, 0, 0, 0]);
    rec.add(k, [uni, op.x, op.params, op.y, op.stats], grid(op.rows), op.label);
  }

  async backward(rec: Recorder, op: LnBackwardOp): Promise<void> {
    const k = await this.rt.kernel(this.source("backward", ["uniform", "read", "read", "read", "read", "rw", "rw"]));
    const { rowsPerChunk, chunks } = lnChunking(op.rows);
    const uni = rec.uniform([op.rows, 0, 0, op.gOff, rowsPerChunk, op.accumulate ? 1 : 0, op.partOff, chunks]);
    rec.add(k, [uni, op.x, op.params, op.dy, op.stats, op.dres, op.part], grid(chunks), op.label);
  }

  /** Sums the partials of `count` LayerNorms (table: partOff, gradOff per LN) into the gradients. */
  async reduce(
    rec: Recorder,
    op: { rows: number; part: GPUBuffer; table: GPUBuffer; grads: GPUBuffer; count: number },
  ): Promise<void> {
    const k = await this.rt.kernel(this.source("reduce_params", ["uniform", "read", "read", "rw"]));
    const uni = rec.uniform([op.rows, 0, 0, 0, 0, 0, 0, lnChunking(op.rows).chunks]);
    rec.add(k, [uni, op.part, op.table, op.grads], [Math.ceil(this.C / this.wg), op.count], "ln/reduce");
  }
}
