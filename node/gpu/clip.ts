import { F, type Recorder } from "./recorder.ts";
import { grid, type Runtime } from "./runtime.ts";

/** At most this many partial sums, so finalize's single workgroup reads few values per thread. */
const MAX_PARTS = 1024;
/** At least this many values per workgroup: a workgroup is not free (on a CPU Vulkan it costs ~0.2 ms). */
const MIN_CHUNK = 8192;

/** How the flat gradient of n values is split for the norm: chunks of a multiple of 256 values. */
export function normChunking(n: number): { chunk: number; parts: number } {
  const chunk = Math.max(MIN_CHUNK, Math.ceil(n / MAX_PARTS / 256) * 256);
  return { chunk, parts: Math.ceil(n / chunk) };
}

/** Global gradient norm, clip coefficient and mean loss (clip.wgsl). */
export class ClipKernels {
  constructor(private readonly rt: Runtime) {}

  private kernel(entry: "partials" | "finalize") {
    return this.rt.kernel({
      key: `clip/${entry}`,
      files: ["reduce.wgsl", "clip.wgsl"],
      entry,
      consts: {},
      bindings: entry === "partials" ? ["uniform", "read", "rw"] : ["uniform", "read", "read", "rw"],
    });
  }

  /** Squares of `grads` [n] summed into `part` (normChunking(n).parts values). */
  async partials(rec: Recorder, op: { n: number; grads: GPUBuffer; part: GPUBuffer }): Promise<void> {
    const { chunk, parts } = normChunking(op.n);
    const k = await this.kernel("partials");
    const uni = rec.uniform([op.n, chunk, parts, 0, F(0), 0, 0, 0]);
    rec.add(k, [uni, op.grads, op.part], grid(parts), "clip/partials");
  }

  /**
   * stats = [mean of lossRows, norm, coef, 0]. Without a gradient (`n` = 0, evaluation) only the loss
   * is meaningful.
   */
  async finalize(
    rec: Recorder,
    op: { n: number; rows: number; clip: number; lossRows: GPUBuffer; part: GPUBuffer; stats: GPUBuffer },
  ): Promise<void> {
    const parts = op.n > 0 ? normChunking(op.n).parts : 0;
    const k = await this.kernel("finalize");
    const uni = rec.uniform([op.n, 0, parts, op.rows, F(op.clip), op.n > 0 ? 1 : 0, 0, 0]);
    rec.add(k, [uni, op.lossRows, op.part, op.stats], [1], "clip/finalize");
  }
}
