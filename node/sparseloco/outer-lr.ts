import { z } from "zod";

/**
 * The outer learning rate α as a pure function of the round (0-based), so every node, a restarted one
 * or a validator replaying history, applies the same θ_{r+1} = θ_r − α(r)·mean from the round number alone.
 */
export type OuterLrSchedule = (round: number) => number;

export const outerLrShapes = ["constant", "linear", "cosine"] as const;
export type OuterLrShape = (typeof outerLrShapes)[number];

/**
 * α starts at `alpha` and moves to `alphaEnd` over `decayRounds` rounds, then stays there. Covenant-72B
 * lowered α by hand from 1.0 to 0.4 over its run (covenant-facts.md §1); "linear" is that staircase
 * smoothed, "cosine" the usual cosine shape, "constant" ignores alphaEnd (SparseLoCo's plain SGD step).
 */
export const outerLrSchema = z.object({
  /** α at round 0 (Covenant: 1.0). */
  alpha: z.number().positive().max(10),
  shape: z.enum(outerLrShapes),
  /** α after `decayRounds` (Covenant ended at 0.4). Ignored by "constant". */
  alphaEnd: z.number().positive().max(10),
  /** Rounds over which α moves from `alpha` to `alphaEnd`. */
  decayRounds: z.number().int().min(1).max(1e9),
});

export type OuterLrParams = z.infer<typeof outerLrSchema>;

export function outerLrSchedule(params: OuterLrParams): OuterLrSchedule {
  const res = outerLrSchema.safeParse(params);
  if (!res.success) {
    const issue = res.error.issues[0];
    throw new RangeError(`outer lr ${issue.path.join(".")}: ${issue.message}`);
  }
  const p = res.data;
  return (round) => {
    if (!(Number.isInteger(round) && round >= 0))
      throw new RangeError(`round must be a non-negative integer, got ${round}`);
    if (p.shape === "constant") return p.alpha;
    const progress = Math.min(1, round / p.decayRounds);
    const w = p.shape === "linear" ? progress : 0.5 * (1 - Math.cos(Math.PI * progress));
    return p.alpha + (p.alphaEnd - p.alpha) * w;
  };
}
