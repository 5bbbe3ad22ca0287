/**
 * Learning-rate schedules as pure functions of the global inner step (0-based), so a peer that restarts
 * mid-run, or a validator that replays, computes the same rate from the step number alone.
 */
export type LrSchedule = (step: number) => number;

export interface WarmupCosineParams {
  /** Peak learning rate reached at the end of warmup. */
  readonly peakLr: number;
  /** Linear warmup length; lr(s) = peak*(s+1)/warmup for s < warmup. */
  readonly warmupSteps: number;
  /** Step at which the cosine reaches its floor (warmup included); constant at the floor afterwards. */
  readonly totalSteps: number;
  /** Floor as a fraction of the peak (Covenant-72B: 0.1, covenant-facts.md section 1). */
  readonly minRatio: number;
}

/** Linear warmup, then cosine decay to minRatio*peak (the seeds' default inner schedule). */
export function warmupCosine(p: WarmupCosineParams): LrSchedule {
  checkNonNeg(p.warmupSteps, "warmupSteps");
  if (p.totalSteps < p.warmupSteps) throw new RangeError("totalSteps < warmupSteps");
  return (step) => {
    checkNonNeg(step, "step");
    if (step < p.warmupSteps) return (p.peakLr * (step + 1)) / p.warmupSteps;
    const span = p.totalSteps - p.warmupSteps;
    const progress = span === 0 ? 1 : Math.min(1, (step - p.warmupSteps) / span);
    return p.peakLr * (p.minRatio + (1 - p.minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
  };
}

export interface Stage extends WarmupCosineParams {
  /** Global step at which this data stage begins; the first stage starts at 0. */
  readonly startStep: number;
}

/**
 * Continual pre-training across data stages (Ibrahim et al. 2024, "Simple and Scalable Strategies to
 * Continually Pre-train LLMs"): when a new stage starts, re-warm to that stage's peak and re-decay
 * with a fresh cosine, counting steps from the stage start.
 */
export function stagedSchedule(stages: readonly Stage[]): LrSchedule {
  if (stages.length === 0 || stages[0].startStep !== 0) throw new RangeError("the first stage must start at step 0");
  for (let i = 1; i < stages.length; i++)
    if (stages[i].startStep <= stages[i - 1].startStep) throw new RangeError("stage starts must increase");
  const fns = stages.map(warmupCosine);
  return (step) => {
    let i = stages.length - 1;
    while (stages[i].startStep > step) i--;
    return fns[i](step - stages[i].startStep);
  };
}

/** `lr` with its step 0 moved to global step `start`: a stage's own curve counted from the stage start. */
export function shiftSchedule(lr: LrSchedule, start: number): LrSchedule {
  checkNonNeg(start, "start");
  return (step) => {
    if (step < start) throw new RangeError(`step ${step} precedes the schedule's start ${start}`);
    return lr(step - start);
  };
}

/**
 * One schedule per segment, each in force from its `startStep` (global) until the next one starts: the
 * data stages of a run config (node/config/stages.ts), whose curves are built on global steps.
 */
export function piecewiseSchedule(segments: ReadonlyArray<{ startStep: number; lr: LrSchedule }>): LrSchedule {
  if (segments.length === 0 || segments[0].startStep !== 0)
    throw new RangeError("the first segment must start at step 0");
  for (let i = 1; i < segments.length; i++)
    if (segments[i].startStep <= segments[i - 1].startStep) throw new RangeError("segment starts must increase");
  return (step) => {
    checkNonNeg(step, "step");
    let i = segments.length - 1;
    while (segments[i].startStep > step) i--;
    return segments[i].lr(step);
  };
}

export interface InfiniteParams {
  readonly peakLr: number;
  /** Linear warmup 0 -> peak. */
  readonly warmupSteps: number;
  /** Cosine cooldown peak -> constantRatio*peak. */
  readonly cooldownSteps: number;
  /** Level of the constant phase as a fraction of the peak. */
  readonly constantRatio: number;
  /** Global step at which the final anneal begins (Infinity: never; the run can go on indefinitely). */
  readonly annealStart: number;
  /** Linear anneal from the constant level to minRatio*peak over this many steps. */
  readonly annealSteps: number;
  readonly minRatio: number;
}

/**
 * The "infinite" schedule (Ibrahim et al. 2024): warmup, cooldown, a constant phase of open length,
 * and a short final anneal whenever the operator decides to stop (Covenant-72B annealed on a
 * higher-quality shard, covenant-facts.md section 1). Without an anneal the rate stays constant, so a
 * new stage needs no re-warm.
 */
export function infiniteSchedule(p: InfiniteParams): LrSchedule {
  const constStart = p.warmupSteps + p.cooldownSteps;
  if (p.annealStart < constStart) throw new RangeError("annealStart before the constant phase");
  const constLr = p.peakLr * p.constantRatio;
  const minLr = p.peakLr * p.minRatio;
  return (step) => {
    checkNonNeg(step, "step");
    if (step < p.warmupSteps) return (p.peakLr * (step + 1)) / p.warmupSteps;
    if (step < constStart) {
      const progress = (step - p.warmupSteps) / p.cooldownSteps;
      return constLr + (p.peakLr - constLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
    }
    if (step < p.annealStart) return constLr;
    const progress = p.annealSteps === 0 ? 1 : Math.min(1, (step - p.annealStart) / p.annealSteps);
    return constLr + (minLr - constLr) * progress;
  };
}

export function constantSchedule(lr: number): LrSchedule {
  return () => lr;
}

function checkNonNeg(n: number, what: string): void {
  if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`${what} must be a non-negative integer, got ${n}`);
}

/**
 * The global inner step of inner step `step` (0-based) of round `round`: round·H + step, with H the most
 * inner steps a round may take (run config `train.innerSteps`). The inner lr of every step is
 * `schedule(globalInnerStep(round, step, H))`, so any node computes it from (round, step) alone, and a
 * round that the time budget ended early never shifts the next round's rates. A schedule over data
 * stages (`stagedSchedule`) plugs in as `schedule` unchanged, its stage starts counted in these steps.
 */
export function globalInnerStep(round: number, step: number, stepsPerRound: number): number {
  checkNonNeg(round, "round");
  checkNonNeg(step, "step");
  if (!(Number.isInteger(stepsPerRound) && stepsPerRound > 0))
    throw new RangeError(`stepsPerRound must be a positive integer, got ${stepsPerRound}`);
  if (step >= stepsPerRound) throw new RangeError(`inner step ${step} >= ${stepsPerRound} steps per round`);
  return round * stepsPerRound + step;
}

/** The inner lr as a function of (round, inner step): `schedule` at `globalInnerStep`. */
export function roundLr(schedule: LrSchedule, stepsPerRound: number): (round: number, step: number) => number {
  return (round, step) => schedule(globalInnerStep(round, step, stepsPerRound));
}
