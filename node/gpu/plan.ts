import type { GPTConfig } from "../model/options.ts";
import type { GpuOptimizer } from "./adamw.ts";
import type { AttentionKernels } from "./attention.ts";
import type { ClipKernels } from "./clip.ts";
import type { CrossEntropyKernels } from "./cross-entropy.ts";
import type { BatchLayout, EmbeddingKernels } from "./embedding.ts";
import { allocateActivations, allocateBackward, GptGraph } from "./gpt-graph.ts";
import type { ParamLayout } from "./layout.ts";
import type { LayerNormKernels } from "./layernorm.ts";
import type { MatmulKernels } from "./matmul.ts";
import { Recorder } from "./recorder.ts";
import type { Dispatch, Runtime } from "./runtime.ts";

/** What a plan is built from: the engine's kernels and its shape-independent buffers. */
export interface PlanContext {
  readonly rt: Runtime;
  readonly config: GPTConfig;
  readonly layout: ParamLayout;
  readonly gradClip: number;
  readonly kernels: {
    readonly matmul: MatmulKernels;
    readonly ln: LayerNormKernels;
    readonly attn: AttentionKernels;
    readonly ce: CrossEntropyKernels;
    readonly emb: EmbeddingKernels;
    readonly clip: ClipKernels;
  };
  readonly optimizer: GpuOptimizer;
  /** Flat parameters and gradients (ParamLayout), [loss, norm, coef, 0], norm partials. */
  readonly params: GPUBuffer;
  readonly grads: GPUBuffer;
  readonly stats: GPUBuffer;
  readonly normPart: GPUBuffer;
}

/**
 * Everything one batch shape (B, T) needs, created once: activation buffers, uniform blocks, bind
 * groups, and three fixed dispatch lists a step replays. `evaluate` = forward + loss; `gradient` =
 * forward + backward + norm; `train` = gradient + optimizer. Nothing is read back inside a list.
 */
export class StepPlan {
  private constructor(
    readonly B: number,
    readonly T: number,
    readonly batch: GPUBuffer,
    readonly batchLayout: BatchLayout,
    readonly evaluate: readonly Dispatch[],
    readonly gradient: readonly Dispatch[],
    readonly train: readonly Dispatch[],
    private readonly owned: GPUBuffer[],
  ) {}

  get hasBackward(): boolean {
    return this.train.length > 0;
  }

  destroy(rt: Runtime): void {
    for (const b of this.owned) rt.destroyBuffer(b);
    this.owned.length = 0;
  }

  static async build(ctx: PlanContext, B: number, T: number, withBackward: boolean): Promise<StepPlan> {
    const { rt, layout } = ctx;
    const owned: GPUBuffer[] = [];
    const own = (b: GPUBuffer) => owned.push(b);
    const alloc = (label: string, floats: number) => {
      const b = rt.storage(`${B}x${T}/${label}`, floats);
      owned.push(b);
      return b;
    };
    try {
      const acts = allocateActivations(ctx, alloc, own, B, T);
      const rec = new Recorder(rt, `plan ${B}x${T}`);
      const graph = new GptGraph(ctx, acts, rec);
      const lossStats = {
        rows: B * T,
        clip: ctx.gradClip,
        lossRows: acts.lossRows,
        part: ctx.normPart,
        stats: ctx.stats,
      };
      // Recorded in this order, then sliced: [forward | loss, finalize | loss+grad, backward, norm | optimizer].
      await graph.forward();
      const nForward = rec.size;
      await graph.loss(false);
      await ctx.kernels.clip.finalize(rec, { ...lossStats, n: 0 });
      const nEval = rec.size;
      let nGrad = nEval;
      if (withBackward) {
        const scratch = allocateBackward(ctx, alloc, own, B, T);
        await graph.loss(true);
        await graph.backward(scratch);
        await ctx.kernels.clip.partials(rec, { n: layout.total, grads: ctx.grads, part: ctx.normPart });
        await ctx.kernels.clip.finalize(rec, { ...lossStats, n: layout.total });
        nGrad = rec.size;
        await ctx.optimizer.record(rec, { params: ctx.params, grads: ctx.grads, stats: ctx.stats });
      }
      const all = rec.finish(own);
      const fwd = all.slice(0, nForward);
      const gradient = withBackward ? [...fwd, ...all.slice(nEval, nGrad)] : [];
      const train = withBackward ? [...gradient, ...all.slice(nGrad)] : [];
      return new StepPlan(
        B,
        T,
        acts.batch,
        acts.batchLayout,
        [...fwd, ...all.slice(nForward, nEval)],
        gradient,
        train,
        owned,
      );
    } catch (e) {
      for (const b of owned) rt.destroyBuffer(b);
      throw e;
    }
  }
}

/** Plans by batch shape, built on first use; beyond `max` the least recently used is destroyed. */
export class PlanCache {
  private readonly plans = new Map<string, StepPlan>();

  constructor(
    private readonly ctx: PlanContext,
    private readonly max: number,
  ) {}

  async get(B: number, T: number, backward: boolean): Promise<StepPlan> {
    const key = `${B}x${T}`;
    const have = this.plans.get(key);
    if (have) this.plans.delete(key);
    if (have && (have.hasBackward || !backward)) {
      this.plans.set(key, have);
      return have;
    }
    have?.destroy(this.ctx.rt);
    const p = await StepPlan.build(this.ctx, B, T, backward);
    this.plans.set(key, p);
    for (const [k, old] of this.plans) {
      if (this.plans.size <= this.max) break;
      this.plans.delete(k);
      old.destroy(this.ctx.rt);
    }
    return p;
  }

  destroyAll(): void {
    for (const p of this.plans.values()) p.destroy(this.ctx.rt);
    this.plans.clear();
  }
}
