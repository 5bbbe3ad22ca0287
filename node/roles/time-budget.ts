import type { RoundTimes } from "./views.ts";

/**
 * When round r's inner loop may run, in chain seconds: from the start of round r−1 until r's submission
 * deadline D_r (the update must be announced by then). A peer trains its rounds back to back: round r
 * begins the moment round r−1's inner loop ends (while r−1's update is compressed and announced, and
 * before round r itself opens), from where round r−1 ended, and moves onto θ_r as soon as the model loop
 * has it (trainer.ts). Opening at round r−1's start bounds how far a peer runs ahead: never more than
 * one round beyond the chain's current round (a fast peer that reaches H early waits there).
 */
export function trainingWindow(
  clock: Pick<RoundTimes, "roundStart" | "submissionDeadline">,
  round: number,
): { opens: number; closes: number } {
  return { opens: clock.roundStart(Math.max(round - 1, 0)), closes: clock.submissionDeadline(round) };
}

/** The round a peer trains at chain time `now`: the one whose submission deadline comes next (−1 before genesis). */
export function roundToTrain(clock: Pick<RoundTimes, "roundAt" | "submissionDeadline">, now: number): number {
  const r = clock.roundAt(now);
  return r >= 1 && now < clock.submissionDeadline(r - 1) ? r - 1 : r;
}

export interface TimeBudgetOptions {
  /** The fewest steps worth publishing (run config `train.minInnerSteps`). */
  minSteps: number;
  /** Seconds kept free before the window closes on top of the measured compress + publish time. */
  marginSeconds: number;
  /** The measured compress + publish time is multiplied by this (it varies with load and payload). */
  overheadFactor: number;
  /**
   * Fraction of the measured step time kept free as well: a step's time varies (on a shared box it
   * doubled while a validator scored), and one overrun past the deadline loses the round's update
   * (measured: `npm start` micro, 3-5 s steps, a peer announced 1.3 s late). Ending earlier costs no
   * accelerator time: the next round starts the moment this one ends (training-loop.ts).
   */
  stepSlack: number;
  /**
   * Steps at the start of the process whose time says nothing about the pace: the first step compiles
   * the backend's kernels (measured: 15-25 s for a 3-5 s micro step with four processes starting at once
   * on two cores). Counted as a step's time, it made every later round's minimum look out of reach and
   * the peers skipped every round (`no_time`, `npm start` on a loaded box).
   */
  warmupSteps: number;
  /**
   * The largest share of a round's steps taken before θ_r is known (from where round r−1 ended, then
   * rebased onto θ_r; trainer.ts). Those steps see an older model, and at equal tokens the cost grows
   * with their share: +0.29 % / +0.45 % / +1.24 % held-out loss for 12.5 / 25 / 37.5 % of a round
   * (docs/roles.md, `bench:overlap`, 30 rounds, 3 seeds). Past this share the accelerator waits for θ_r.
   * A node's own policy, not a run parameter: no validator can tell when a peer learned θ_r.
   */
  maxStaleShare: number;
}

export const defaultTimeBudgetOptions: TimeBudgetOptions = {
  minSteps: 1,
  marginSeconds: 0.25,
  overheadFactor: 1.5,
  stepSlack: 0.5,
  warmupSteps: 1,
  maxStaleShare: 0.25,
};

/** Weight of the newest measurement in the running estimates (exponential moving average). */
const EMA = 0.5;

/**
 * A peer's time budget for its inner loop (docs/roles.md "Time budget"): train from the window's
 * opening until a cutoff that leaves room for compressing and publishing the update — as measured on
 * this node in earlier rounds — and never start a step that would end after it. The step count is
 * whatever fits (at most H, the engine's limit); a round in which `minSteps` cannot fit is skipped.
 */
export class TimeBudget {
  private stepSeconds: number | null = null;
  private overheadSeconds = 0;
  /** Steps measured by this process so far (the first `warmupSteps` of them are not a pace). */
  private stepsSeen = 0;

  constructor(private readonly opts: TimeBudgetOptions) {}

  /** The measured compress + publish seconds (the time an update takes to get out after training). */
  get overhead(): number {
    return this.overheadSeconds;
  }

  /** The measured seconds per step (moving average over earlier rounds, warm-up left out); null before any. */
  get pace(): number | null {
    return this.stepSeconds;
  }

  /** The moment training must end for the update to be out when the window closes (with slack for a slow step). */
  cutoff(closes: number): number {
    const slack = this.opts.stepSlack * (this.stepSeconds ?? 0);
    return closes - this.opts.overheadFactor * this.overheadSeconds - this.opts.marginSeconds - slack;
  }

  /** Whether `minSteps` fit between `now` and `cutoff` at the pace measured so far (unknown pace: try). */
  canReachMin(now: number, cutoff: number): boolean {
    if (now >= cutoff) return false;
    return this.stepSeconds === null || now + this.opts.minSteps * this.stepSeconds <= cutoff;
  }

  /**
   * How many steps a round starting at `now` may take before θ_r is known: `maxStaleShare` of the
   * steps expected to fit before `cutoff` at the measured pace (at most `maxSteps`, the ceiling H).
   * Before any pace is measured, of H.
   */
  staleCap(now: number, cutoff: number, maxSteps: number): number {
    const fit = this.stepSeconds ? Math.floor((cutoff - now) / this.stepSeconds) : maxSteps;
    return Math.floor(this.opts.maxStaleShare * Math.max(0, Math.min(maxSteps, fit)));
  }

  /** Times one round's inner loop (its steps may span several engine calls) and answers the engine's `shouldStop`. */
  round(cutoff: number, now: () => number): RoundPace {
    return new RoundPace(cutoff, now, this.stepSeconds, Math.max(0, this.opts.warmupSteps - this.stepsSeen));
  }

  /** A finished inner loop's step times: the moving average of the pace, warm-up steps left out. */
  recordSteps(durations: readonly number[]): void {
    const warm = Math.max(0, this.opts.warmupSteps - this.stepsSeen);
    this.stepsSeen += durations.length;
    const paced = durations.slice(warm).filter((d) => d >= 0);
    if (paced.length === 0) return;
    const pace = paced.reduce((a, b) => a + b, 0) / paced.length;
    this.stepSeconds = this.stepSeconds === null ? pace : EMA * pace + (1 - EMA) * this.stepSeconds;
  }

  /**
   * A round skipped for lack of time measures no step, so a pace estimate too slow for any round (one
   * bad round under load) would skip every round after it. Each such skip halves it; a real step
   * measured later corrects an estimate that came out too fast.
   */
  recordSkip(): void {
    if (this.stepSeconds !== null) this.stepSeconds /= 2;
  }

  /** The time from the end of training to the update's announcement (compress + commit + publish). */
  recordOverhead(seconds: number): void {
    if (!(seconds >= 0)) return;
    this.overheadSeconds = this.overheadSeconds === 0 ? seconds : EMA * seconds + (1 - EMA) * this.overheadSeconds;
  }

  get minSteps(): number {
    return this.opts.minSteps;
  }
}

/**
 * One round's inner loop against its cutoff: `stepEnded` after every step (the engine's `onStep`),
 * `resume` after a pause that is no step (waiting for θ_r, the rebase between two engine calls), and
 * `shouldStop` before every step but the first: true when the next step, at this round's pace so far
 * (warm-up steps left out; before any, the measured pace of earlier rounds, else the warm-up's own),
 * would end after the cutoff. Times are chain seconds.
 */
export class RoundPace {
  readonly durations: number[] = [];
  private last: number;

  constructor(
    private readonly cutoff: number,
    private readonly now: () => number,
    private readonly earlier: number | null,
    private readonly warmup: number,
  ) {
    this.last = now();
  }

  stepEnded(): void {
    const t = this.now();
    this.durations.push(t - this.last);
    this.last = t;
  }

  resume(): void {
    this.last = this.now();
  }

  shouldStop(): boolean {
    const t = this.now();
    return t + this.stepPace() > this.cutoff;
  }

  private stepPace(): number {
    const paced = this.durations.slice(this.warmup);
    if (paced.length > 0) return paced.reduce((a, b) => a + b, 0) / paced.length;
    if (this.earlier !== null) return this.earlier;
    return this.durations.length > 0 ? this.durations[this.durations.length - 1] : 0;
  }
}
