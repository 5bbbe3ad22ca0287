import type { Recorder } from "./recorder.ts";
import { grid, type Runtime, u32 } from "./runtime.ts";

export interface CrossEntropyOp {
  readonly rows: number;
  /** Int32 batch buffer; targets at targetsOff. */
  readonly batch: GPUBuffer;
  readonly targetsOff: number;
  /** [rows, V] logits, overwritten by dLoss/dlogits when writeGrad. */
  readonly logits: GPUBuffer;
  /** [rows] loss of each row. */
  readonly lossRows: GPUBuffer;
  readonly writeGrad: boolean;
  readonly label: string;
}

/** Fused softmax + cross-entropy + its gradient (cross-entropy.wgsl). */
export class CrossEntropyKernels {
  private readonly wg: number;

  constructor(
    private readonly rt: Runtime,
    private readonly V: number,
  ) {
    this.wg = Math.min(256, Math.max(32, 2 ** Math.ceil(Math.log2(Math.ceil(V / 4)))));
  }

  async record(rec: Recorder, op: CrossEntropyOp): Promise<void> {
    const k = await this.rt.kernel({
      key: `cross-entropy/V${this.V}`,
      files: ["reduce.wgsl", "cross-entropy.wgsl"],
      entry: "main",
      consts: { V: u32(this.V), WG: u32(this.wg), VPT: u32(Math.ceil(this.V / this.wg)) },
      bindings: ["uniform", "read", "rw", "rw"],
    });
    const uni = rec.uniform([op.rows, op.targetsOff, op.writeGrad ? 1 : 0, 0]);
    rec.add(k, [uni, op.batch, op.logits, op.lossRows], grid(op.rows), op.label);
  }
}
