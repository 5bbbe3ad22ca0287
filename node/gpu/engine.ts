import type { GPTConfig } from "../model/options.ts";
import { paramSpecs, validateConfig } from "../model/params.ts";
import type { ParamMap, TensorSpec } from "../sparseloco/types.ts";
import { TrainError } from "../train/errors.ts";
import { defaultEngineOptions, type EngineOptions } from "../train/options.ts";
import {
  type AdamWState,
  meanLoss,
  type TokenBatch,
  type TrainCallOptions,
  type TrainingEngine,
  type TrainResult,
} from "../train/types.ts";
import { GpuAdamW, type GpuOptimizer } from "./adamw.ts";
import { AttentionKernels } from "./attention.ts";
import { ClipKernels, normChunking } from "./clip.ts";
import { CrossEntropyKernels } from "./cross-entropy.ts";
import { type AdapterReport, BufferUsage, MapModeRead, openGpu } from "./device.ts";
import { packTokenBatch } from "./batch.ts";
import { EmbeddingKernels } from "./embedding.ts";
import { GpuError } from "./errors.ts";
import { LayerNormKernels } from "./layernorm.ts";
import { ParamLayout } from "./layout.ts";
import { MatmulKernels } from "./matmul.ts";
import { defaultGpuOptions, type GpuOptions } from "./options.ts";
import { PlanCache, type PlanContext } from "./plan.ts";
import { type Dispatch, encodeDispatches, Runtime } from "./runtime.ts";

export type WebGpuEngineOptions = EngineOptions & GpuOptions;

export interface WebGpuEngineDependencies {
  readonly config: GPTConfig;
}

/** Where a step's time goes (the benchmark prints these). */
export interface StepProfile {
  readonly steps: number;
  /** Dispatches recorded in one training step. */
  readonly kernelsPerStep: number;
  /** Host time per step spent writing the batch and scalars, encoding and submitting. */
  readonly hostMsPerStep: number;
  /** The part of it spent in queue.submit (where dawn records the backend's command buffer). */
  readonly submitMsPerStep: number;
  /** GPU time of the step's compute pass (timestamp queries), or null without them. */
  readonly gpuMsPerStep: number | null;
}

/**
 * The training engine on WebGPU: our own WGSL kernels for the GPT of node/model (same parameter names,
 * shapes and init as the tfjs engine, so SparseLoCo, checkpoints and model hashes do not depend on the
 * engine). Parameters, gradients and Adam moments live in flat GPU buffers; a step replays a fixed list
 * of dispatches recorded once per batch shape (plan.ts) and reads back only [loss, grad norm], a few
 * steps behind, through MAP_READ buffers.
 */
export class WebGpuEngine implements TrainingEngine {
  readonly kind = "webgpu";
  readonly specs: TensorSpec[];
  private readonly plans: PlanCache;
  private readonly ring: GPUBuffer[];
  private readonly querySet: GPUQuerySet | null;
  private readonly resolve: GPUBuffer | null;
  private readonly maxRows: number;
  private tail: Promise<unknown> = Promise.resolve();
  private disposed = false;
  private profile = { steps: 0, kernels: 0, hostMs: 0, submitMs: 0, gpuMs: 0, gpuSteps: 0 };

  private constructor(
    readonly options: WebGpuEngineOptions,
    private readonly deps: WebGpuEngineDependencies,
    private readonly rt: Runtime,
    private readonly layout: ParamLayout,
    private readonly ctx: PlanContext,
    private readonly optimizer: GpuOptimizer,
  ) {
    this.specs = [...layout.specs];
    this.plans = new PlanCache(ctx, options.maxPlans);
    const c = deps.config;
    const widest = Math.max(3 * c.nEmbd, c.mlpRatio * c.nEmbd, c.vocabSize);
    const lim = rt.device.limits;
    this.maxRows = Math.floor(Math.min(lim.maxStorageBufferBindingSize, lim.maxBufferSize) / (4 * widest));
    this.ring = Array.from({ length: options.readbackLag + 1 }, (_, i) =>
      rt.buffer(`readback${i}`, 32, BufferUsage.MAP_READ | BufferUsage.COPY_DST),
    );
    if (rt.gpu.timestamps) {
      this.querySet = rt.device.createQuerySet({ type: "timestamp", count: 2 });
      this.resolve = rt.buffer("timestamps", 256, BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC);
    } else {
      this.querySet = null;
      this.resolve = null;
    }
  }

  /** Opens the adapter (GpuError NO_ADAPTER explains a missing one) and sets up the engine. */
  static async create(options: Partial<WebGpuEngineOptions>, deps: WebGpuEngineDependencies): Promise<WebGpuEngine> {
    const o: WebGpuEngineOptions = { ...defaultEngineOptions, ...defaultGpuOptions, ...options };
    // Muon (node/train/muon.ts) runs on the tfjs engines only: its Newton-Schulz iteration has no WGSL
    // kernels yet. Refused before the adapter opens, so `auto` falls back to tfjs and says why.
    if (o.optimizer !== "adamw")
      throw new TrainError("BAD_OPTIONS", `optimizer ${o.optimizer}: the webgpu engine implements adamw only`);
    if (!(Number.isInteger(o.readbackLag) && o.readbackLag >= 1 && o.readbackLag <= 4))
      throw new RangeError(`readbackLag ${o.readbackLag} must be 1..4`);
    const c = deps.config;
    validateConfig(c);
    const layout = new ParamLayout(paramSpecs(c));
    const gpu = await openGpu(o);
    const rt = new Runtime(gpu);
    try {
      const need = layout.total * 4;
      const have = Math.min(rt.device.limits.maxStorageBufferBindingSize, rt.device.limits.maxBufferSize);
      if (need > have)
        throw new GpuError(
          "LIMITS",
          `the model's ${layout.total} parameters need a ${need} B storage binding; ${gpu.adapter.description} allows ${have} B`,
        );
      const hd = c.nEmbd / c.nHead;
      if (hd > 256) throw new GpuError("LIMITS", `head dim ${hd} > 256 (the attention kernels keep a row per thread)`);
      const params = rt.storage("params", layout.total);
      const grads = rt.storage("grads", layout.total);
      // The inner optimizer's kernels and state (adamw.ts); another optimizer implements GpuOptimizer.
      const optimizer: GpuOptimizer = new GpuAdamW(rt, layout, o);
      const ctx: PlanContext = {
        rt,
        config: c,
        layout,
        gradClip: o.gradClip,
        kernels: {
          matmul: new MatmulKernels(rt),
          ln: new LayerNormKernels(rt, c.nEmbd, c.lnEps),
          attn: new AttentionKernels(rt, { nHead: c.nHead, nEmbd: c.nEmbd, simpleMaxT: o.simpleAttentionMaxT }),
          ce: new CrossEntropyKernels(rt, c.vocabSize),
          emb: new EmbeddingKernels(rt, { C: c.nEmbd, V: c.vocabSize, seqLen: c.seqLen }),
          clip: new ClipKernels(rt),
        },
        optimizer,
        params,
        grads,
        stats: rt.storage("stats", 4),
        normPart: rt.storage("norm-partials", normChunking(layout.total).parts),
      };
      return new WebGpuEngine(o, deps, rt, layout, ctx, optimizer);
    } catch (e) {
      rt.destroy();
      throw e;
    }
  }

  get config(): GPTConfig {
    return this.deps.config;
  }

  get adapter(): AdapterReport {
    return this.rt.gpu.adapter;
  }

  /** GPU buffers this engine holds now (0 after dispose). */
  get liveBuffers(): number {
    return this.rt.liveBuffers;
  }

  /** Averages over the training steps run since the last reset. */
  stepProfile(reset = false): StepProfile {
    const p = this.profile;
    const out: StepProfile = {
      steps: p.steps,
      kernelsPerStep: p.steps ? p.kernels / p.steps : 0,
      hostMsPerStep: p.steps ? p.hostMs / p.steps : 0,
      submitMsPerStep: p.steps ? p.submitMs / p.steps : 0,
      gpuMsPerStep: p.gpuSteps ? p.gpuMs / p.gpuSteps : null,
    };
    if (reset) this.profile = { steps: 0, kernels: 0, hostMs: 0, submitMs: 0, gpuMs: 0, gpuSteps: 0 };
    return out;
  }

  /**
   * Host cost of recording one training step of shape B x T with the GPU idle: the mean time to encode
   * the dispatch list and finish the command buffer (not submitted). The benchmark reports it next to
   * the in-loop host time, which on a CPU Vulkan competes with the "GPU" for the same cores.
   */
  encodeCost(B: number, T: number, reps = 20): Promise<number> {
    return this.call("encodeCost", async () => {
      const plan = await this.plans.get(B, T, true);
      await this.rt.device.queue.onSubmittedWorkDone();
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) {
        const enc = this.rt.device.createCommandEncoder();
        const pass = enc.beginComputePass();
        encodeDispatches(pass, plan.train);
        pass.end();
        enc.finish();
      }
      return (performance.now() - t0) / reps;
    });
  }

  train(
    params: ParamMap,
    batches: readonly TokenBatch[],
    H: number,
    opts: TrainCallOptions = {},
  ): Promise<TrainResult> {
    return this.call("train", async () => {
      if (batches.length === 0 || !(H > 0))
        throw new TrainError("BAD_BATCH", "train needs H > 0 and at least one batch");
      const packed = batches.map((b, i) => packTokenBatch(b, i, this.deps.config, this.maxRows));
      this.upload(params);
      const stepOffset = opts.stepOffset ?? 0;
      const losses: number[] = [];
      const gradNorms: number[] = [];
      const t0 = performance.now();
      let tokens = 0;
      let steps = 0;
      const lag = this.options.readbackLag;
      // Step i's [loss, norm] is read back once step i + lag is submitted; `read` steps are done.
      let read = 0;
      let bad = -1;
      const collect = async () => {
        const i = read++;
        const { loss, norm } = await this.readSlot(this.ring[i % this.ring.length]);
        losses.push(loss);
        gradNorms.push(norm);
        if (!Number.isFinite(loss)) bad = bad < 0 ? i : bad;
        else if (bad < 0) opts.onStep?.(i, loss);
      };
      try {
        for (let i = 0; i < H && bad < 0; i++) {
          if (i > 0 && opts.shouldStop?.(i)) break;
          const b = batches[i % batches.length];
          const plan = await this.plans.get(b.batch, b.seqLen, true);
          const h0 = performance.now();
          this.rt.device.queue.writeBuffer(plan.batch, 0, packed[i % batches.length]);
          this.optimizer.beginStep(this.options.lr(stepOffset + i));
          this.profile.submitMs += this.submit(plan.train, this.ring[i % this.ring.length]);
          this.profile.hostMs += performance.now() - h0;
          this.profile.kernels += plan.train.length;
          this.profile.steps++;
          tokens += b.batch * b.seqLen;
          steps++;
          if (steps - read > lag) await collect();
        }
        while (read < steps) await collect();
      } catch (e) {
        // A throwing callback or a plan that failed to build: still read every step in flight, so no
        // readback buffer is left pending a map for the next call.
        while (read < steps) await collect().catch(() => {});
        throw e;
      }
      if (bad >= 0) throw new TrainError("NON_FINITE_LOSS", `loss ${losses[bad]} at inner step ${stepOffset + bad}`);
      const out = this.layout.unpack(await this.rt.readFloats(this.ctx.params, 0, this.layout.total));
      return { params: out, losses, gradNorms, steps, tokens, seconds: (performance.now() - t0) / 1000 };
    });
  }

  async evaluate(params: ParamMap, batches: readonly TokenBatch[]): Promise<number> {
    return meanLoss(batches, await this.evaluateEach(params, batches));
  }

  evaluateEach(params: ParamMap, batches: readonly TokenBatch[]): Promise<number[]> {
    return this.call("evaluate", async () => {
      if (batches.length === 0) throw new TrainError("BAD_BATCH", "evaluate needs at least one batch");
      const packed = batches.map((b, i) => packTokenBatch(b, i, this.deps.config, this.maxRows));
      this.upload(params);
      const results = this.rt.buffer("eval-losses", batches.length * 4, BufferUsage.MAP_READ | BufferUsage.COPY_DST);
      try {
        for (let i = 0; i < batches.length; i++) {
          const b = batches[i];
          const plan = await this.plans.get(b.batch, b.seqLen, false);
          this.rt.device.queue.writeBuffer(plan.batch, 0, packed[i]);
          const enc = this.rt.device.createCommandEncoder();
          const pass = enc.beginComputePass();
          encodeDispatches(pass, plan.evaluate);
          pass.end();
          enc.copyBufferToBuffer(this.ctx.stats, 0, results, i * 4, 4);
          this.rt.device.queue.submit([enc.finish()]);
        }
        await results.mapAsync(MapModeRead);
        const losses = new Float32Array(results.getMappedRange().slice(0));
        results.unmap();
        return Array.from(losses);
      } finally {
        this.rt.destroyBuffer(results);
      }
    });
  }

  /**
   * Loss, pre-clip gradient norm and the gradient of every parameter at `params` on one batch, with no
   * update (the parity test compares these with the tfjs engine's).
   */
  gradients(params: ParamMap, batch: TokenBatch): Promise<{ loss: number; gradNorm: number; grads: ParamMap }> {
    return this.call("gradients", async () => {
      const packed = packTokenBatch(batch, 0, this.deps.config, this.maxRows);
      this.upload(params);
      const plan = await this.plans.get(batch.batch, batch.seqLen, true);
      this.rt.device.queue.writeBuffer(plan.batch, 0, packed);
      const slot = this.ring[0];
      this.submit(plan.gradient, slot);
      const { loss, norm } = await this.readSlot(slot);
      const grads = this.layout.unpack(await this.rt.readFloats(this.ctx.grads, 0, this.layout.total));
      return { loss, gradNorm: norm, grads };
    });
  }

  getOptimizerState(): Promise<AdamWState> {
    return this.call("getOptimizerState", () => this.optimizer.readState());
  }

  setOptimizerState(state: AdamWState): void {
    this.live();
    if (!(Number.isInteger(state.step) && state.step >= 0)) throw new TrainError("BAD_STATE", `bad step ${state.step}`);
    try {
      this.optimizer.writeState(state);
    } catch (e) {
      throw new TrainError("BAD_STATE", (e as Error).message);
    }
  }

  resetOptimizerState(): void {
    this.live();
    this.optimizer.reset();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.plans.destroyAll();
    this.querySet?.destroy();
    this.rt.destroy();
  }

  /**
   * Engine calls run one at a time (a step must not interleave with another call's uploads) and each
   * inside GPU error scopes, so a GPU error surfaces as a GpuError of the call that caused it.
   */
  private call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const body = () => {
      this.live();
      return this.rt.scoped(what, fn);
    };
    const run = this.tail.then(body, body);
    this.tail = run.catch(() => {});
    return run;
  }

  private live(): void {
    if (this.disposed) throw new TrainError("DISPOSED", "engine disposed");
  }

  private upload(params: ParamMap): void {
    this.rt.device.queue.writeBuffer(this.ctx.params, 0, this.layout.pack(params));
  }

  /**
   * One command buffer: the dispatch list in one compute pass, then the stats copy into `slot`.
   * Returns the milliseconds queue.submit took (dawn records the backend command buffer there).
   */
  private submit(list: readonly Dispatch[], slot: GPUBuffer): number {
    const enc = this.rt.device.createCommandEncoder();
    const pass = enc.beginComputePass(
      this.querySet
        ? { timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } }
        : undefined,
    );
    encodeDispatches(pass, list);
    pass.end();
    enc.copyBufferToBuffer(this.ctx.stats, 0, slot, 0, 16);
    if (this.querySet && this.resolve) {
      enc.resolveQuerySet(this.querySet, 0, 2, this.resolve, 0);
      enc.copyBufferToBuffer(this.resolve, 0, slot, 16, 16);
    }
    const cb = enc.finish();
    const t0 = performance.now();
    this.rt.device.queue.submit([cb]);
    return performance.now() - t0;
  }

  private async readSlot(slot: GPUBuffer): Promise<{ loss: number; norm: number }> {
    await slot.mapAsync(MapModeRead);
    const range = slot.getMappedRange();
    const stats = new Float32Array(range, 0, 4);
    const loss = stats[0];
    const norm = stats[1];
    if (this.querySet) {
      const [begin, end] = new BigUint64Array(range, 16, 2);
      if (end > begin) {
        this.profile.gpuMs += Number(end - begin) / 1e6;
        this.profile.gpuSteps++;
      }
    }
    slot.unmap();
    return { loss, norm };
  }
}
