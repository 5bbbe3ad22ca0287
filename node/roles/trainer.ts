import { type Assignment, type Dataset, assignSamples, assignmentBatches, sampleDigest } from "../data/index.ts";
import type { Metrics } from "../metrics/index.ts";
import { type ParamMap, type TensorSpec, rebaseParams } from "../sparseloco/index.ts";
import { type TrainResult, type TrainingEngine, globalInnerStep } from "../train/index.ts";
import type { InnerStepHook } from "./hooks.ts";
import type { StageSource } from "./stage-plan.ts";
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
  specs: readonly TensorSpec[];
  /** The one dataset of a run without stages (used when `stages` is absent). */
  dataset: Dataset;
  /** The round's stage data (stage-plan.ts): its dataset, replay and, through the engine, its lr. */
  stages?: StageSource;
  clock: Pick<RoundTimes, "now">;
  budget: TimeBudget;
  /** A test knob run inside each step (node/roles/hooks.ts); none on the CLI. */
  innerStep?: InnerStepHook;
  metrics: Pick<
    Metrics,
    "phaseSeconds" | "loss" | "tokensPerSecond" | "tokensTotal" | "trainSeconds" | "utilization"
  > | null;
}

/** θ_round as the model loop provides it: at once when known, or once it arrives. */
export interface RoundBase {
  get(): ModelState | undefined;
  /** θ_round once the model loop has it; null when not by chain time `until`. */
  wait(until: number): Promise<ModelState | null>;
}

/** A round's inner loop: the round's model, the samples it used (a prefix of the assignment) and θ_end. */
export interface TrainedRound {
  round: number;
  /** θ_round: the update is Δ = θ_round − θ_end, announced with H(θ_round). */
  base: ModelState;
  /** The assignment's first `samples` samples, with their digest (what the announcement carries). */
  assignment: Assignment;
  samples: number;
  /** The data stage the round trained in: its index and dataset manifest hash. */
  stage: { index: number; dataset: string };
  /** All the round's steps (θ_end rebased onto θ_round); `steps` counts both parts. */
  result: TrainResult;
  /** Steps taken before θ_round was known (from where the previous round ended; at most the budget's staleCap), then rebased. */
  staleSteps: number;
  tokensPerS: number;
  /** Wall seconds from the end of this peer's previous inner loop (or its start) to the end of this one. */
  wallSeconds: number;
  /** result.seconds / wallSeconds: the share of its time this peer's accelerator trained. */
  utilization: number;
  /** performance.now() when the inner loop ended (the time to announce is measured from here). */
  endedAt: number;
}

/** Why a round was not trained (or its update is not worth publishing). */
export interface SkippedRound {
  round: number;
  skipped: "no_time" | "below_min_steps" | "no_base";
  steps: number;
}

/**
 * A peer's step 2 (DESIGN "A round, end to end"), time-budgeted and off the network's critical path:
 * inner optimizer steps on the samples `assignSamples(runId, round, address)` lists, taken in order,
 * until the budget's cutoff (the window's close minus the measured compress + publish time) or H
 * steps. The samples used are the first steps × batchSize of the assignment, which any validator
 * recomputes from the count the announcement carries; the lr of inner step i is the run's schedule at
 * `globalInnerStep(round, i, H)`.
 *
 * The round starts at once from `start` (where this peer's previous round ended) even while θ_round is
 * still being gathered; when θ_round arrives the state is rebased onto it, x ← x + (θ_round − start),
 * keeping the steps' progress (Streaming DiLoCo's overlapped communication, the global model replacing
 * the local one in full), and the remaining steps continue from there. The update is Δ = θ_round − θ_end
 * on base H(θ_round), exactly as if the round had waited: the first steps only saw a slightly older model.
 * At most the budget's `staleCap` steps run before θ_round is known (a quarter of the round; beyond that
 * the learning cost passed 1 %, docs/roles.md); then the round waits for it.
 */
export class RoundTrainer {
  /** performance.now() at the end of the last inner loop (at construction before the first). */
  private lastEnd = performance.now();

  constructor(
    private readonly opts: RoundTrainerOptions,
    private readonly deps: RoundTrainerDependencies,
  ) {}

  /**
   * Trains round `round` from `start` (moving onto θ_round when it comes) until the budget for a window
   * closing at `closes` runs out, or `signal` aborts (a stop: the step in flight ends the round, instead
   * of the rest of H, which on a slow CPU took minutes after SIGINT).
   */
  async train(
    round: number,
    start: ParamMap,
    base: RoundBase,
    closes: number,
    signal?: AbortSignal,
  ): Promise<TrainedRound | SkippedRound> {
    const { innerSteps: H, batchSize, seqLen, runId } = this.opts;
    const { budget, clock, engine } = this.deps;
    // The round's stage first: it re-reads the run config and the chain's config timeline (stage-plan.ts).
    const data = this.deps.stages
      ? await this.deps.stages.at(round)
      : { dataset: this.deps.dataset, replay: undefined, stage: { index: 0 } };
    const cutoff = budget.cutoff(closes);
    if (!budget.canReachMin(clock.now(), cutoff)) {
      budget.recordSkip();
      return { round, skipped: "no_time", steps: 0 };
    }
    const all = assignSamples(
      { runId, round, address: this.deps.address, count: H * batchSize, seqLen, batchSize, replay: data.replay },
      data.dataset,
    );
    const batches = assignmentBatches(all, data.dataset, batchSize, seqLen, data.replay?.dataset);
    const hook = this.deps.innerStep;
    const pace = budget.round(cutoff, () => clock.now());
    const call = (from: number, stop: (done: number) => boolean) => ({
      stepOffset: globalInnerStep(round, from, H),
      shouldStop: (done: number) => signal?.aborted === true || pace.shouldStop() || stop(from + done),
      onStep: (i: number) => {
        pace.stepEnded();
        return hook?.(from + i);
      },
    });

    let known = base.get();
    const x0 = known ? known.params : start;
    // Until θ_round is known: from `start`, stopping when it arrives or at the stale-step cap (then wait).
    const staleCap = known ? H : budget.staleCap(clock.now(), cutoff, H);
    let result: TrainResult =
      staleCap > 0
        ? await engine.train(
            x0,
            batches,
            H,
            call(0, (done) => !known && (done >= staleCap || base.get() !== undefined)),
          )
        : { params: x0, steps: 0, losses: [], gradNorms: [], tokens: 0, seconds: 0 };
    const staleSteps = known ? 0 : result.steps;
    if (!known) {
      known = base.get() ?? (await base.wait(closes - budget.overhead)) ?? undefined;
      if (!known) {
        budget.recordSteps(pace.durations);
        return { round, skipped: "no_base", steps: result.steps };
      }
      const rebased = rebaseParams(result.params, x0, known.params, this.deps.specs);
      result = { ...result, params: rebased };
      const done = result.steps;
      pace.resume();
      if (done < H && !pace.shouldStop() && !signal?.aborted) {
        const rest = await engine.train(
          rebased,
          batches.slice(done),
          H - done,
          call(done, () => false),
        );
        result = joinResults(result, rest);
      }
    }

    const end = performance.now();
    const wallSeconds = (end - this.lastEnd) / 1000;
    this.lastEnd = end;
    const utilization = wallSeconds > 0 ? Math.min(1, result.seconds / wallSeconds) : 0;
    budget.recordSteps(pace.durations);
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
      base: known,
      assignment: { ...all, samples: used, dataDigest: sampleDigest(used) },
      samples,
      stage: { index: data.stage.index, dataset: data.dataset.manifestHash },
      result,
      staleSteps,
      tokensPerS,
      wallSeconds,
      utilization,
      endedAt: end,
    };
  }

  /** The time from the end of training to the announcement, for the next rounds' cutoffs. */
  published(overheadSeconds: number): void {
    this.deps.budget.recordOverhead(overheadSeconds);
  }
}

/** Two consecutive engine calls of one round as one result (θ_end from the second). */
function joinResults(a: TrainResult, b: TrainResult): TrainResult {
  return {
    params: b.params,
    steps: a.steps + b.steps,
    losses: [...a.losses, ...b.losses],
    gradNorms: [...a.gradNorms, ...b.gradNorms],
    tokens: a.tokens + b.tokens,
    seconds: a.seconds + b.seconds,
  };
}

export function isSkipped(t: TrainedRound | SkippedRound): t is SkippedRound {
  return "skipped" in t;
}
