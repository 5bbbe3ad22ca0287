/**
 * bench:continual's five ways to add a second corpus to a run (Ibrahim et al. 2024, "Simple and Scalable
 * Strategies to Continually Pre-train LLMs"; Gupta et al. 2023 on re-warming; Singh et al. 2025 on the
 * infinite schedule), each an lr schedule over the global inner step and the data of every round, built
 * from the network's own pieces (node/train/schedules.ts, assignSamples' `replay`).
 */
import type { Dataset } from "../../node/data/index.ts";
import { infiniteSchedule, type LrSchedule, stagedSchedule, warmupCosine } from "../../node/train/index.ts";
import type { RoundData } from "./simulate.ts";

export const variantNames = ["continue", "rewarm", "replay", "infinite", "scratch"] as const;
export type VariantName = (typeof variantNames)[number];

/** The letters and what each does at the stage switch. */
export const variantInfo: Record<VariantName, { readonly letter: string; readonly what: string }> = {
  continue: { letter: "a", what: "stage-1 cosine continued: stage 2 trains at its floor" },
  rewarm: { letter: "b", what: "re-warm + re-decay (fresh cosine from the stage start)" },
  replay: { letter: "c", what: "re-warm + re-decay + replay of stage 1 in every batch" },
  infinite: { letter: "d", what: "infinite: warmup, cooldown, constant, final anneal" },
  scratch: { letter: "e", what: "from scratch on both corpora mixed, one cosine" },
};

export interface ContinualPlan {
  /** Inner steps per round. */
  readonly H: number;
  /** Sequences per peer per inner step (replay takes round(replay·batch) of them). */
  readonly batch: number;
  /** Rounds of stage 1 (first corpus) and of stage 2 (second corpus). */
  readonly rounds1: number;
  readonly rounds2: number;
  readonly peakLr: number;
  readonly warmup: number;
  /** Cosine floor as a fraction of the peak (every variant's final lr). */
  readonly minRatio: number;
  /** Re-warm peak and length for (b), (c). */
  readonly rewarmLr: number;
  readonly rewarmWarmup: number;
  /** Fraction of every stage-2 batch drawn from stage 1 in (c). */
  readonly replay: number;
  /** Infinite schedule (d): cosine cooldown steps, constant level (fraction of peak), final anneal steps. */
  readonly cooldown: number;
  readonly constantRatio: number;
  readonly anneal: number;
}

export interface Variant {
  readonly name: VariantName;
  /** "(a) continue" and so on. */
  readonly label: string;
  readonly schedule: LrSchedule;
  readonly data: (round: number) => RoundData;
  /** Share of every batch from the first corpus in stage 2 (what assignSamples actually draws). */
  readonly stage2FirstShare: number;
}

/** Replay slots per batch as assignSamples counts them: round(fraction·batch). */
export function effectiveFraction(fraction: number, batch: number): number {
  return Math.round(fraction * batch) / batch;
}

export function continualVariant(name: VariantName, p: ContinualPlan, first: Dataset, second: Dataset): Variant {
  const s1 = p.rounds1 * p.H;
  const total = (p.rounds1 + p.rounds2) * p.H;
  const stage1 = { peakLr: p.peakLr, warmupSteps: p.warmup, totalSteps: s1, minRatio: p.minRatio };
  const rewarm = stagedSchedule([
    { startStep: 0, ...stage1 },
    { startStep: s1, peakLr: p.rewarmLr, warmupSteps: p.rewarmWarmup, totalSteps: total - s1, minRatio: p.minRatio },
  ]);
  const staged = (replay?: number) => (round: number) =>
    round < p.rounds1
      ? { dataset: first }
      : { dataset: second, ...(replay ? { replay: { dataset: first, fraction: replay } } : {}) };
  const label = `(${variantInfo[name].letter}) ${name}`;
  switch (name) {
    case "continue":
      // warmupCosine stays at its floor after totalSteps: the stage-1 curve, continued.
      return { name, label, schedule: warmupCosine(stage1), data: staged(), stage2FirstShare: 0 };
    case "rewarm":
      return { name, label, schedule: rewarm, data: staged(), stage2FirstShare: 0 };
    case "replay":
      return {
        name,
        label,
        schedule: rewarm,
        data: staged(p.replay),
        stage2FirstShare: effectiveFraction(p.replay, p.batch),
      };
    case "infinite":
      return {
        name,
        label,
        schedule: infiniteSchedule({
          peakLr: p.peakLr,
          warmupSteps: p.warmup,
          cooldownSteps: p.cooldown,
          constantRatio: p.constantRatio,
          annealStart: total - p.anneal,
          annealSteps: p.anneal,
          minRatio: p.minRatio,
        }),
        data: staged(),
        stage2FirstShare: 0,
      };
    case "scratch": {
      // Both corpora in every batch from round 0, in the proportion the staged variants see them.
      const share = p.rounds1 / (p.rounds1 + p.rounds2);
      return {
        name,
        label,
        schedule: warmupCosine({ ...stage1, totalSteps: total }),
        data: () => ({ dataset: second, replay: { dataset: first, fraction: share } }),
        stage2FirstShare: effectiveFraction(share, p.batch),
      };
    }
  }
}
