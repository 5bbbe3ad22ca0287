import { type Assignment, type Dataset, assignSamples, assignmentBatches } from "../data/index.ts";
import type { Metrics } from "../metrics/index.ts";
import type { TrainResult, TrainingEngine } from "../train/index.ts";
import type { ModelState } from "./state-store.ts";

export interface RoundTrainerOptions {
  runId: string;
  /** H inner steps per round. */
  innerSteps: number;
  batchSize: number;
  seqLen: number;
}

export interface RoundTrainerDependencies {
  address: string;
  engine: Pick<TrainingEngine, "train">;
  dataset: Dataset;
  metrics: Pick<Metrics, "phaseSeconds" | "loss" | "tokensPerSecond" | "tokensTotal"> | null;
}

/** A round's inner loop: which samples it used and θ_end. */
export interface TrainedRound {
  assignment: Assignment;
  result: TrainResult;
  tokensPerS: number;
}

/**
 * A peer's step 2 (DESIGN "A round, end to end"): H inner optimizer steps from θ_r on the samples
 * `assignSamples(runId, round, address)` picks, so any validator can recompute them. The lr schedule
 * is evaluated at the global inner step r·H + i. The time budget of issue 14 phase B plugs in here
 * (TrainCallOptions.shouldStop), and the announcement then carries how many samples were used.
 */
export class RoundTrainer {
  constructor(
    private readonly opts: RoundTrainerOptions,
    private readonly deps: RoundTrainerDependencies,
  ) {}

  async train(state: ModelState): Promise<TrainedRound> {
    const { innerSteps: H, batchSize, seqLen, runId } = this.opts;
    const assignment = assignSamples(
      { runId, round: state.round, address: this.deps.address, count: H * batchSize, seqLen, batchSize },
      this.deps.dataset,
    );
    const batches = assignmentBatches(assignment, this.deps.dataset, batchSize, seqLen);
    const result = await this.deps.engine.train(state.params, batches, H, { stepOffset: state.round * H });
    const tokensPerS = result.tokens / result.seconds;
    const m = this.deps.metrics;
    m?.phaseSeconds.observe({ phase: "train" }, result.seconds);
    m?.loss.set({ kind: "train" }, result.losses[result.losses.length - 1]);
    m?.tokensPerSecond.set(tokensPerS);
    m?.tokensTotal.inc(result.tokens);
    return { assignment, result, tokensPerS };
  }
}
