import type { Provider } from "ethers";

/** The timing parameters the clock needs (a subset of RunParams). */
export interface RoundTiming {
  genesis: number;
  roundSeconds: number;
  submissionSeconds: number;
  scoringSeconds: number;
}

/**
 * Where a moment sits in the round schedule (DESIGN "A round, end to end"):
 * - `submission`: the first submissionSeconds of round r, peers publish round r−1's update;
 * - `training`: the rest of round r (peers train on θ_r);
 * - `scoringRound`: the round whose scoring window [deadline, deadline + scoringSeconds) is open, if any
 *   (it overlaps round r's training: validators score r−1 while peers train r).
 */
export interface RoundPhase {
  /** Round the moment falls in; −1 before genesis. */
  round: number;
  phase: "pre-genesis" | "submission" | "training";
  scoringRound: number | null;
  /** Unix seconds of the next boundary (submission deadline, scoring close, or round start). */
  nextBoundary: number;
  secondsToNextBoundary: number;
}

export interface RoundClockDependencies {
  /** Source of chain time; without one the clock uses local time (offset 0). */
  provider?: Provider;
  /** Local time in ms (injectable for tests). */
  now?: () => number;
}

/**
 * The run's clock on chain time. Contracts see block.timestamp, which can drift from local time (a
 * dev chain moved with evm_increaseTime, a testnet's skewed validators), so `sync()` samples the
 * latest block's timestamp and keeps its offset from the local clock; `now()` = local + offset.
 * On a chain that mines only on transactions the latest block can be old: sync right after a
 * transaction, or run the dev chain with a block time.
 */
export class RoundClock {
  private offsetSeconds = 0;
  private readonly nowMs: () => number;

  constructor(
    readonly timing: RoundTiming,
    private readonly deps: RoundClockDependencies = {},
  ) {
    this.nowMs = deps.now ?? Date.now;
  }

  /** Re-reads chain time; resolves with the offset (chain − local) in seconds. */
  async sync(): Promise<number> {
    if (!this.deps.provider) return this.offsetSeconds;
    const block = await this.deps.provider.getBlock("latest");
    if (block) this.offsetSeconds = block.timestamp - this.nowMs() / 1000;
    return this.offsetSeconds;
  }

  /** Estimated chain time in (fractional) unix seconds. */
  now(): number {
    return this.nowMs() / 1000 + this.offsetSeconds;
  }

  roundAt(t: number): number {
    if (t < this.timing.genesis) return -1;
    return Math.floor((t - this.timing.genesis) / this.timing.roundSeconds);
  }

  currentRound(): number {
    return this.roundAt(this.now());
  }

  roundStart(round: number): number {
    return this.timing.genesis + round * this.timing.roundSeconds;
  }

  /** Peers must have published round `round`'s update by this time. */
  submissionDeadline(round: number): number {
    return this.roundStart(round + 1) + this.timing.submissionSeconds;
  }

  scoringWindow(round: number): { opensAt: number; closesAt: number } {
    const opensAt = this.submissionDeadline(round);
    return { opensAt, closesAt: opensAt + this.timing.scoringSeconds };
  }

  phaseAt(t: number): RoundPhase {
    const { genesis, roundSeconds, submissionSeconds, scoringSeconds } = this.timing;
    if (t < genesis) {
      return {
        round: -1,
        phase: "pre-genesis",
        scoringRound: null,
        nextBoundary: genesis,
        secondsToNextBoundary: genesis - t,
      };
    }
    const round = this.roundAt(t);
    const start = this.roundStart(round);
    const deadline = start + submissionSeconds; // round−1's submission deadline
    const scoringClose = deadline + scoringSeconds;
    const phase = t < deadline ? "submission" : "training";
    // scoringSeconds <= roundSeconds (enforced on chain), so only round−1's window can be open.
    const scoringRound = round >= 1 && t >= deadline && t < scoringClose ? round - 1 : null;
    const candidates = [deadline, scoringClose, start + roundSeconds].filter((b) => b > t);
    const nextBoundary = Math.min(...candidates);
    return { round, phase, scoringRound, nextBoundary, secondsToNextBoundary: nextBoundary - t };
  }

  phase(): RoundPhase {
    return this.phaseAt(this.now());
  }
}
