import type { RoundTimes } from "./views.ts";

/**
 * When round r's inner loop may run, in chain seconds: from the round's start until its submission
 * deadline D_r (the update must be announced by then). A peer trains its rounds back to back: round r
 * follows round r−1 at once (S after round r's start, when round r−1's update went out), starting from
 * where round r−1 ended, and moves onto θ_r as soon as the model loop has it (trainer.ts). So the
 * accelerator idles only while an update is compressed and committed.
 */
export function trainingWindow(
  clock: Pick<RoundTimes, "roundStart" | "submissionDeadline">,
  round: number,
): { opens: number; closes: number } {
  return { opens: clock.roundStart(round), closes: clock.submissionDeadline(round) };
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
   * (measured: `npm start` micro, 3-5 s steps, a peer announced 1.3 s late). Ending earlier costs almost
   * nothing: the next round's window is already open and training continues there.
   */
  stepSlack: number;
}

export const defaultTimeBudgetOptions: TimeBudgetOptions = {
  minSteps: 1,
  marginSeconds: 0.25,
  overheadFactor: 1.5,
  stepSlack: 0.5,
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

  constructor(private readonly opts: TimeBudgetOptions) {}

  /** The measured compress + publish seconds (the time an update takes to get out after training). */
  get overhead(): number {
    return this.overheadSeconds;
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
   * The engine's `shouldStop`: true when the next step, at this call's pace so far (or the pace of
   * earlier rounds before any step ended), would end after `cutoff`. `now` is chain time.
   */
  stopper(cutoff: number, now: () => number): (stepsDone: number) => boolean {
    const start = now();
    return (stepsDone) => {
      const t = now();
      const pace = stepsDone > 0 ? (t - start) / stepsDone : (this.stepSeconds ?? 0);
      return t + pace > cutoff;
    };
  }

  /** A finished inner loop: its steps and the seconds they took. */
  recordSteps(steps: number, seconds: number): void {
    if (steps <= 0 || !(seconds >= 0)) return;
    const pace = seconds / steps;
    this.stepSeconds = this.stepSeconds === null ? pace : EMA * pace + (1 - EMA) * this.stepSeconds;
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
