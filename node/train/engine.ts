import * as tf from "@tensorflow/tfjs-core";
import { causalMask, gptLoss } from "../model/gpt.ts";
import type { GPTConfig } from "../model/options.ts";
import { checkParams, paramSpecs } from "../model/params.ts";
import { numel, type ParamMap, type TensorSpec } from "../sparseloco/types.ts";
import { adamwUpdate } from "./adamw.ts";
import { TrainError } from "./errors.ts";
import { muonUpdate, usesMuon } from "./muon.ts";
import { defaultEngineOptions, type EngineOptions, innerOptimizers } from "./options.ts";
import {
  meanLoss,
  type OptimizerState,
  type TokenBatch,
  type TrainCallOptions,
  type TrainingEngine,
  type TrainResult,
} from "./types.ts";

let nextEngineId = 0;

export interface EngineDependencies {
  readonly config: GPTConfig;
}

/**
 * The inner loop: H optimizer steps (AdamW, or Muon + AdamW) of the GPT on the active tfjs backend.
 * Parameters and optimizer state live in tf.Variables between calls (one upload of theta_r per round,
 * one download of theta_end); the canonical model stays in JavaScript Float32Arrays owned by the caller.
 */
export class TfjsEngine implements TrainingEngine {
  readonly kind = "tfjs";
  readonly specs: TensorSpec[];
  private readonly vars = new Map<string, tf.Variable>();
  /** AdamW first moments, or Muon momentum buffers for the matrices Muon updates. */
  private readonly m = new Map<string, tf.Variable>();
  /** AdamW second moments of the tensors AdamW updates. */
  private readonly v = new Map<string, tf.Variable>();
  /** Specs of the tensors AdamW updates (all of them unless the optimizer is Muon). */
  private readonly adamSpecs: TensorSpec[];
  private adamStep = 0;
  private readonly masks = new Map<number, tf.Tensor2D>();
  private disposed = false;

  constructor(
    readonly options: EngineOptions,
    private readonly deps: EngineDependencies,
  ) {
    this.specs = paramSpecs(deps.config);
    this.adamSpecs = this.specs.filter((s) => !this.muonFor(s));
    // Variable names are global in tfjs: prefix them per engine so several engines can coexist.
    const id = `engine${nextEngineId++}`;
    // Built inside tidy so the zero initial tensors are freed (variables survive tidy).
    tf.tidy(() => {
      for (const s of this.specs) {
        this.vars.set(s.name, tf.variable(tf.zeros(s.shape as number[]), true, `${id}/p/${s.name}`));
        this.m.set(s.name, tf.variable(tf.zeros(s.shape as number[]), false, `${id}/m/${s.name}`));
      }
      for (const s of this.adamSpecs)
        this.v.set(s.name, tf.variable(tf.zeros(s.shape as number[]), false, `${id}/v/${s.name}`));
    });
    this.masks.set(deps.config.seqLen, tf.keep(causalMask(deps.config.seqLen)));
  }

  get config(): GPTConfig {
    return this.deps.config;
  }

  async train(
    params: ParamMap,
    batches: readonly TokenBatch[],
    H: number,
    opts: TrainCallOptions = {},
  ): Promise<TrainResult> {
    this.live();
    if (batches.length === 0 || !(H > 0)) throw new TrainError("BAD_BATCH", "train needs H > 0 and at least one batch");
    this.load(params);
    const stepOffset = opts.stepOffset ?? 0;
    const o = this.options;
    const trainable = [...this.vars.values()];
    const losses: number[] = [];
    const gradNorms: number[] = [];
    let tokens = 0;
    const t0 = performance.now();
    let steps = 0;
    for (let i = 0; i < H; i++) {
      if (i > 0 && opts.shouldStop?.(i)) break;
      const b = batches[i % batches.length];
      this.adamStep++;
      const lr = o.lr(stepOffset + i);
      const muonLr = o.optimizer === "muon" ? o.muon.lr(stepOffset + i) : 0;
      const t = this.adamStep;
      const out = tf.tidy(() => {
        const { ids, targets, mask } = this.batchTensors(b);
        const { value, grads } = tf.variableGrads(
          () => gptLoss(this.deps.config, this.vars, ids, targets, mask),
          trainable,
        );
        // Global-norm clipping (torch clip_grad_norm_: scale by clip/(norm+1e-6) when norm > clip).
        const norm = tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))));
        const coef = o.gradClip > 0 ? tf.minimum(1, tf.div(o.gradClip, tf.add(norm, 1e-6))) : tf.scalar(1);
        for (const s of this.specs) {
          const p = this.vars.get(s.name)!;
          const g = tf.mul(grads[p.name], coef);
          const m = this.m.get(s.name)!;
          if (this.muonFor(s)) {
            const next = muonUpdate({ p: p as tf.Tensor2D, buf: m as tf.Tensor2D }, g as tf.Tensor2D, muonLr, {
              ...o.muon,
              weightDecay: o.weightDecay,
            });
            m.assign(next.buf);
            p.assign(next.p);
          } else {
            const v = this.v.get(s.name)!;
            // Decoupled decay on matrices only (not biases or LayerNorm gains).
            const next = adamwUpdate({ p, m, v }, g, lr, t, o, s.shape.length === 2);
            m.assign(next.m);
            v.assign(next.v);
            p.assign(next.p);
          }
        }
        return tf.stack([value, norm]);
      });
      const [loss, gn] = out.dataSync();
      out.dispose();
      if (!Number.isFinite(loss))
        throw new TrainError("NON_FINITE_LOSS", `loss ${loss} at inner step ${stepOffset + i}`);
      losses.push(loss);
      gradNorms.push(gn);
      tokens += b.batch * b.seqLen;
      steps++;
      opts.onStep?.(i, loss);
    }
    const paramsOut = this.read(this.vars, this.specs);
    return { params: paramsOut, losses, gradNorms, steps, tokens, seconds: (performance.now() - t0) / 1000 };
  }

  /** Mean next-token loss (nats/token) of `params` over the batches, token-weighted. */
  async evaluate(params: ParamMap, batches: readonly TokenBatch[]): Promise<number> {
    return meanLoss(batches, await this.evaluateEach(params, batches));
  }

  async evaluateEach(params: ParamMap, batches: readonly TokenBatch[]): Promise<number[]> {
    this.live();
    if (batches.length === 0) throw new TrainError("BAD_BATCH", "evaluate needs at least one batch");
    this.load(params);
    const out: number[] = [];
    for (const b of batches) {
      const l = tf.tidy(() => {
        const { ids, targets, mask } = this.batchTensors(b);
        return gptLoss(this.deps.config, this.vars, ids, targets, mask);
      });
      out.push(l.dataSync()[0]);
      l.dispose();
    }
    return out;
  }

  async getOptimizerState(): Promise<OptimizerState> {
    this.live();
    return { step: this.adamStep, m: this.read(this.m, this.specs), v: this.read(this.v, this.adamSpecs) };
  }

  setOptimizerState(state: OptimizerState): void {
    this.live();
    if (!(Number.isInteger(state.step) && state.step >= 0)) throw new TrainError("BAD_STATE", `bad step ${state.step}`);
    try {
      checkParams(state.m, this.specs);
      checkParams(state.v, this.adamSpecs);
    } catch (e) {
      throw new TrainError(
        "BAD_STATE",
        `${(e as Error).message} (optimizer ${this.options.optimizer}: v holds the AdamW-updated tensors)`,
      );
    }
    this.assignAll(this.m, state.m, this.specs);
    this.assignAll(this.v, state.v, this.adamSpecs);
    this.adamStep = state.step;
  }

  resetOptimizerState(): void {
    this.live();
    for (const t of [...this.m.values(), ...this.v.values()]) tf.tidy(() => t.assign(tf.zeros(t.shape)));
    this.adamStep = 0;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of [...this.vars.values(), ...this.m.values(), ...this.v.values(), ...this.masks.values()])
      t.dispose();
  }

  private batchTensors(b: TokenBatch) {
    const T = b.seqLen;
    if (T > this.deps.config.seqLen || b.inputs.length !== b.batch * T || b.targets.length !== b.batch * T) {
      throw new TrainError(
        "BAD_BATCH",
        `batch ${b.batch}x${T} does not fit the model (seqLen ${this.deps.config.seqLen})`,
      );
    }
    let mask = this.masks.get(T);
    if (!mask) {
      mask = tf.keep(causalMask(T));
      this.masks.set(T, mask);
    }
    return {
      ids: tf.tensor2d(b.inputs, [b.batch, T], "int32"),
      targets: tf.tensor2d(b.targets, [b.batch, T], "int32"),
      mask,
    };
  }

  private load(params: ParamMap): void {
    checkParams(params, this.specs);
    this.assignAll(this.vars, params, this.specs);
  }

  private muonFor(s: TensorSpec): boolean {
    return this.options.optimizer === "muon" && usesMuon(s);
  }

  private assignAll(target: Map<string, tf.Variable>, values: ParamMap, specs: readonly TensorSpec[]): void {
    for (const s of specs) {
      const v = target.get(s.name)!;
      // Copy: some backends (cpu) keep the array they are given, and the caller's theta_r must stay intact.
      tf.tidy(() => v.assign(tf.tensor(values.get(s.name)!.slice(), s.shape as number[], "float32")));
    }
  }

  private read(src: Map<string, tf.Variable>, specs: readonly TensorSpec[]): ParamMap {
    const out: ParamMap = new Map();
    for (const s of specs) {
      const d = src.get(s.name)!.dataSync() as Float32Array;
      out.set(s.name, d.length === numel(s.shape) ? d.slice() : new Float32Array(d));
    }
    return out;
  }

  private live(): void {
    if (this.disposed) throw new TrainError("DISPOSED", "engine disposed");
  }
}

export function createEngine(options: Partial<EngineOptions>, deps: EngineDependencies): TrainingEngine {
  const o = { ...defaultEngineOptions, ...options };
  if (!innerOptimizers.includes(o.optimizer))
    throw new TrainError("BAD_OPTIONS", `optimizer must be one of ${innerOptimizers.join(", ")}, got ${o.optimizer}`);
  return new TfjsEngine(o, deps);
}
