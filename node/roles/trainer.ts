import { type Assignment, type Dataset, assignSamples, assignmentBatches, sampleDigest } from "../data/index.ts";
import type { Metrics } from "../metrics/index.ts";
import { type TrainResult, type TrainingEngine, globalInnerStep } from "../train/index.ts";
import type { InnerStepHook } from "./hooks.ts";
import type { ModelState } from "./state-store.ts";
import type { TimeBudget } from "./time-budget.ts";
import type { RoundTimes } from "./views.ts";

export interface RoundTrainerOptions {
  runId: string;
  /** H: the most inner steps per round, and the lr schedule's steps per round. */
  innerSteps: number;
  batchSize: number;
  seqLen: number;
}

export interface RoundTrainerDependencies {
  address: string;
  engine: Pick<TrainingEngine, "train">;
  dataset: Dataset;
  clock: Pick<RoundTimes, "now">;
  budget: TimeBudget;
  /** A test knob run inside each step (node/roles/hooks.ts); none on the CLI. */
  innerStep?: InnerStepHook;
  metrics: Pick<
    Metrics,
    "phaseSeconds" | "loss" | "tokensPerSecond" | "tokensTotal" | "trainSeconds" | "utilization"
  > | null;
}

/** A round's inner loop: the model it started from, the samples it used (a prefix of the assignment) and θ_end. */
export interface TrainedRound {
  round: number;
  base: ModelState;
  /** The assignment's first `samples` samples, with their digest (what the announcement carries). */
  assignment: Assignment;
  samples: number;
  result: TrainResult;
  tokensPerS: number;
  /** Wall seconds from the end of this peer's previous inner loop (or its start) to the end of this one. */
  wallSeconds: number;
  /** result.seconds / wallSeconds: the share of its time this peer's accelerator trained. */
  utilization: number;
}

/** Why a round was not trained (or its update is not worth publishing). */
export interface SkippedRound {
  round: number;
  skipped: "no_time" | "below_min_steps";
  steps: number;
}

/**
 * A peer's step 2 (DESIGN "A round, end to end"), time-budgeted: inner optimizer steps from the base
 * model on the samples `assignSamples(runId, round, address)` lists, taken in order, until the budget's
 * cutoff (the window's close minus the measured compress + publish time) or H steps. The samples used
 * are the first steps × batchSize of the assignment, which any validator recomputes from the count the
 * announcement carries. The lr of inner step i is the run's schedule at `globalInnerStep(round, i, H)`.
 */
export class RoundTrainer {
  /** performance.now() at the end of the last inner loop (at construction before the first). */
  private lastEnd = performance.now();

  constructor(
    private readonly opts: RoundTrainerOptions,
    private readonly deps: RoundTrainerDependencies,
  ) {}

  /** Trains round `round` from `base` until the budget for a window closing at `closes` runs out. */
  async train(base: ModelState, round: number, closes: number): Promise<TrainedRound | SkippedRound> {
    const { innerSteps: H, batchSize, seqLen, runId } = this.opts;
    const { budget, clock } = this.deps;
    const cutoff = budget.cutoff(closes);
    if (!budget.canReachMin(clock.now(), cutoff)) return { round, skipped: "no_time", steps: 0 };
    const all = assignSamples(
      { runId, round, address: this.deps.address, count: H * batchSize, seqLen, batchSize },
      this.deps.dataset,
    );
    const batches = assignmentBatches(all, this.deps.dataset, batchSize, seqLen);
    const hook = this.deps.innerStep;
    const result = await this.deps.engine.train(base.params, batches, H, {
      stepOffset: globalInnerStep(round, 0, H),
      shouldStop: budget.stopper(cutoff, () => clock.now()),
      onStep: hook ? (i) => hook(i) : undefined,
    });
    const end = performance.now();
    const wallSeconds = (end - this.lastEnd) / 1000;
    this.lastEnd = end;
    const utilization = wallSeconds > 0 ? Math.min(1, result.seconds / wallSeconds) : 0;
    budget.recordSteps(result.steps, result.seconds);
    const m = this.deps.metrics;
    m?.phaseSeconds.observe({ phase: "train" }, result.seconds);
    m?.tokensTotal.inc(result.tokens);
    m?.trainSeconds.inc(result.seconds);
    m?.utilization.set(utilization);
    if (result.steps < budget.minSteps) return { round, skipped: "below_min_steps", steps: result.steps };
    const samples = result.steps * batchSize;
    const used = all.samples.slice(0, samples);
    const tokensPerS = result.tokens / result.seconds;
    m?.loss.set({ kind: "train" }, result.losses[result.losses.length - 1]);
    m?.tokensPerSecond.set(tokensPerS);
    return {
      round,
      base,
      assignment: { ...all, samples: used, dataDigest: sampleDigest(used) },
      samples,
      result,
      tokensPerS,
      wallSeconds,
      utilization,
    };
  }

  /** The time from the end of training to the announcement, for the next rounds' cutoffs. */
  published(overheadSeconds: number): void {
    this.deps.budget.recordOverhead(overheadSeconds);
  }
}

export function isSkipped(t: TrainedRound | SkippedRound): t is SkippedRound {
  return "skipped" in t;
}
