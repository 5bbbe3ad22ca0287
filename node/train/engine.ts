import * as tf from "@tensorflow/tfjs-core";
import { causalMask, gptLoss } from "../model/gpt.ts";
import type { GPTConfig } from "../model/options.ts";
import { checkParams, paramSpecs } from "../model/params.ts";
import { numel, type ParamMap, type TensorSpec } from "../sparseloco/types.ts";
import { TrainError } from "./errors.ts";
import { defaultEngineOptions, type EngineOptions } from "./options.ts";
import type { AdamWState, TokenBatch, TrainCallOptions, TrainingEngine, TrainResult } from "./types.ts";

let nextEngineId = 0;

export interface EngineDependencies {
  readonly config: GPTConfig;
}

/**
 * The inner loop: H AdamW steps of the GPT on the active tfjs backend. Parameters and Adam moments live
 * in tf.Variables between calls (one upload of theta_r per round, one download of theta_end); the
 * canonical model stays in JavaScript Float32Arrays owned by the caller.
 */
export class TfjsEngine implements TrainingEngine {
  readonly kind = "tfjs";
  readonly specs: TensorSpec[];
  private readonly vars = new Map<string, tf.Variable>();
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private adamStep = 0;
  private readonly masks = new Map<number, tf.Tensor2D>();
  private disposed = false;

  constructor(
    readonly options: EngineOptions,
    private readonly deps: EngineDependencies,
  ) {
    this.specs = paramSpecs(deps.config);
    // Variable names are global in tfjs: prefix them per engine so several engines can coexist.
    const id = `engine${nextEngineId++}`;
    // Built inside tidy so the zero initial tensors are freed (variables survive tidy).
    tf.tidy(() => {
      for (const s of this.specs) {
        this.vars.set(s.name, tf.variable(tf.zeros(s.shape as number[]), true, `${id}/p/${s.name}`));
        this.m.set(s.name, tf.variable(tf.zeros(s.shape as number[]), false, `${id}/m/${s.name}`));
        this.v.set(s.name, tf.variable(tf.zeros(s.shape as number[]), false, `${id}/v/${s.name}`));
      }
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
        const bc1 = 1 - o.beta1 ** t;
        const bc2 = 1 - o.beta2 ** t;
        for (const s of this.specs) {
          const p = this.vars.get(s.name)!;
          const g = tf.mul(grads[p.name], coef);
          const m = this.m.get(s.name)!;
          const v = this.v.get(s.name)!;
          m.assign(tf.add(tf.mul(m, o.beta1), tf.mul(g, 1 - o.beta1)));
          v.assign(tf.add(tf.mul(v, o.beta2), tf.mul(tf.square(g), 1 - o.beta2)));
          const update = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), o.eps));
          // Decoupled decay (Loshchilov & Hutter): theta *= 1 - lr*wd, matrices only.
          const decayed = s.shape.length === 2 && o.weightDecay > 0 ? tf.mul(p, 1 - lr * o.weightDecay) : p;
          p.assign(tf.sub(decayed, tf.mul(update, lr)));
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
    const paramsOut = this.read(this.vars);
    return { params: paramsOut, losses, gradNorms, steps, tokens, seconds: (performance.now() - t0) / 1000 };
  }

  /** Mean next-token loss (nats/token) of `params` over the batches, token-weighted. */
  async evaluate(params: ParamMap, batches: readonly TokenBatch[]): Promise<number> {
    this.live();
    if (batches.length === 0) throw new TrainError("BAD_BATCH", "evaluate needs at least one batch");
    this.load(params);
    let sum = 0;
    let n = 0;
    for (const b of batches) {
      const l = tf.tidy(() => {
        const { ids, targets, mask } = this.batchTensors(b);
        return gptLoss(this.deps.config, this.vars, ids, targets, mask);
      });
      sum += l.dataSync()[0] * b.batch * b.seqLen;
      n += b.batch * b.seqLen;
      l.dispose();
    }
    return sum / n;
  }

  async getOptimizerState(): Promise<AdamWState> {
    this.live();
    return { step: this.adamStep, m: this.read(this.m), v: this.read(this.v) };
  }

  setOptimizerState(state: AdamWState): void {
    this.live();
    if (!(Number.isInteger(state.step) && state.step >= 0)) throw new TrainError("BAD_STATE", `bad step ${state.step}`);
    try {
      checkParams(state.m, this.specs);
      checkParams(state.v, this.specs);
    } catch (e) {
      throw new TrainError("BAD_STATE", (e as Error).message);
    }
    this.assignAll(this.m, state.m);
    this.assignAll(this.v, state.v);
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
    this.assignAll(this.vars, params);
  }

  private assignAll(target: Map<string, tf.Variable>, values: ParamMap): void {
    for (const s of this.specs) {
      const v = target.get(s.name)!;
      // Copy: some backends (cpu) keep the array they are given, and the caller's theta_r must stay intact.
      tf.tidy(() => v.assign(tf.tensor(values.get(s.name)!.slice(), s.shape as number[], "float32")));
    }
  }

  private read(src: Map<string, tf.Variable>): ParamMap {
    const out: ParamMap = new Map();
    for (const s of this.specs) {
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
  return new TfjsEngine({ ...defaultEngineOptions, ...options }, deps);
}
