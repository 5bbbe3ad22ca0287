import type { Recorder } from "./recorder.ts";
import { type KernelSource, type Runtime, u32 } from "./runtime.ts";

/** What follows the product, fused into the store (matmul.wgsl). */
export type Epilogue = "none" | "bias" | "bias_residual" | "gelu_grad";
const EPI: Record<Epilogue, number> = { none: 0, bias: 1, bias_residual: 2, gelu_grad: 3 };

/** A workgroup tile: BM x BN outputs, BK deep, TM x TN outputs per thread. */
export interface Tile {
  readonly BM: number;
  readonly BN: number;
  readonly BK: number;
  readonly TM: number;
  readonly TN: number;
}

/**
 * C[M,N] = op(A) op(B) (+ epilogue). Offsets are in floats. With `transA` A is stored [K, M]; with
 * `transB` B is stored [N, K]. `biasRow`: the last of the M rows of op(A) is all ones, so A^T dY
 * also produces the bias gradient (the column sums of dY) as row M-1, right after the weight gradient
 * in the flat gradient buffer.
 */
export interface MatmulOp {
  readonly label: string;
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly a: GPUBuffer;
  readonly aOff?: number;
  readonly transA?: boolean;
  readonly aGelu?: boolean;
  readonly biasRow?: boolean;
  readonly b: GPUBuffer;
  readonly bOff?: number;
  readonly transB?: boolean;
  readonly out: GPUBuffer;
  readonly outOff?: number;
  readonly epilogue?: Epilogue;
  readonly bias?: GPUBuffer;
  readonly biasOff?: number;
  /** The residual (bias_residual) or the pre-activation u (gelu_grad), [M, N]. */
  readonly aux?: GPUBuffer;
  readonly auxOff?: number;
}

/**
 * Large to small: 256, 256 and 64 threads; the largest needs BK*(BM+BN)*4 = 8-16 KiB of workgroup
 * memory (16 KiB is every adapter's minimum). The small one keeps 16 outputs per thread: fewer,
 * fuller threads beat more idle ones on small matrices (and on a CPU Vulkan, 2x).
 */
export function tiles(workgroupStorage: number): Tile[] {
  return [
    { BM: 128, BN: 128, BK: workgroupStorage >= 16384 ? 16 : 8, TM: 8, TN: 8 },
    { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4 },
    { BM: 32, BN: 32, BK: 8, TM: 4, TN: 4 },
  ];
}

/**
 * The largest tile that still gives enough workgroups to fill a big GPU (~100+ compute units): big
 * tiles reuse each loaded value more, small ones keep every unit busy on small matrices.
 */
export function chooseTile(M: number, N: number, options: Tile[]): Tile {
  const count = (t: Tile) => Math.ceil(M / t.BM) * Math.ceil(N / t.BN);
  return options.find((t) => count(t) >= 96) ?? options.find((t) => count(t) >= 32) ?? options[options.length - 1];
}

export class MatmulKernels {
  private readonly tileOptions: Tile[];

  constructor(private readonly rt: Runtime) {
    this.tileOptions = tiles(rt.device.limits.maxComputeWorkgroupStorageSize);
  }

  get tiles(): readonly Tile[] {
    return this.tileOptions;
  }

  source(t: Tile): KernelSource {
    return {
      key: `matmul/${t.BM}x${t.BN}x${t.BK}`,
      files: ["gelu.wgsl", "matmul.wgsl"],
      entry: "main",
      consts: { BM: u32(t.BM), BN: u32(t.BN), BK: u32(t.BK), TM: u32(t.TM), TN: u32(t.TN) },
      bindings: ["uniform", "read", "read", "read", "read", "rw"],
    };
  }

  async record(rec: Recorder, op: MatmulOp, tile?: Tile): Promise<void> {
    const t = tile ?? chooseTile(op.M, op.N, this.tileOptions);
    const kernel = await this.rt.kernel(this.source(t));
    const flags = (op.transA ? 1 : 0) | (op.transB ? 2 : 0) | (op.aGelu ? 4 : 0) | (op.biasRow ? 8 : 0);
    const uni = rec.uniform([
      op.M,
      op.N,
      op.K,
      op.aOff ?? 0,
      op.bOff ?? 0,
      op.outOff ?? 0,
      op.biasOff ?? 0,
      op.auxOff ?? 0,
      flags,
      EPI[op.epilogue ?? "none"],
    ]);
    const dummy = this.rt.dummy;
    rec.add(
      kernel,
      [uni, op.a, op.b, op.bias ?? dummy, op.aux ?? dummy, op.out],
      [Math.ceil(op.N / t.BN), Math.ceil(op.M / t.BM)],
      op.label,
    );
  }
}
