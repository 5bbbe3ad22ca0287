/** Options of the Gauntlet-style scoring (DESIGN.md step 6, covenant-facts §3). */
export interface ScoringOptions {
  /** Index overlap at or above which the later announcer is a copier (Templar: 0.4). */
  copyThreshold: number;
  /**
   * "binary": +1 if the gain on the peer's own samples beats the held-out gain, else -1 (Templar).
   * "continuous": the signed relative margin (own - heldOut) / max(|own|, |heldOut|), in [-1, 1].
   */
  proofOfTraining: "binary" | "continuous";
  /**
   * Held-out relative gain g that maps to a gain factor of 0.5; factor = g / (g + gainHalf).
   * A fixed per-peer curve (not normalised by the round's best) so one peer cannot shrink the others.
   */
  gainHalf: number;
  /** OpenSkill Plackett-Luce parameters as Templar (β = 7, τ = 0.1); μ, σ defaults 25, 25/3. */
  openskill: { beta: number; tau: number; mu: number; sigma: number; z: number };
  /** OpenSkill score given to a disqualified or missing update (Templar: -99). */
  disqualifiedScore: number;
  /** Ordinal units per e-fold of the rating factor: factor = 1 / (1 + exp(-ordinal / ratingScale)). */
  ratingScale: number;
  /** Decay of the binary moving average of the proof-of-training signal (Templar: 0.95). */
  bmaDecay: number;
  /**
   * The proof-of-training gate (ratings.ts `proofGateFloor`): after `bmaMinRounds` rated rounds a peer
   * whose bias-corrected proof average is below the round's floor gets a contract score of 0. The floor
   * is min(bmaFloor, median − max(bmaMargin, bmaNoiseZ × 1.4826 × MAD)) over the round's peers with a
   * proof and `bmaMinRounds` rounds; with fewer than 3 such peers there is no gate. Templar gates at a
   * fixed BMA of 0.1 after 10 rounds, built for its ±1 proof; cotrain's continuous proof of an honest
   * peer may average near 0 when own and held-out gains differ by noise (docs/security.md, "Gaming").
   */
  bmaMinRounds: number;
  /** The highest the floor can be (Templar's 0.1): a sybil majority at most restores Templar's gate. */
  bmaFloor: number;
  /** Smallest distance of the floor below the round's median proof average. */
  bmaMargin: number;
  /** Robust standard deviations (1.4826 × MAD) of the round's proof averages below the median. */
  bmaNoiseZ: number;
}

export const defaultScoringOptions: ScoringOptions = {
  copyThreshold: 0.4,
  proofOfTraining: "binary",
  gainHalf: 0.01,
  openskill: { beta: 7, tau: 0.1, mu: 25, sigma: 25 / 3, z: 3 },
  disqualifiedScore: -99,
  ratingScale: 5,
  bmaDecay: 0.95,
  bmaMinRounds: 10,
  bmaFloor: 0.1,
  bmaMargin: 0.3,
  bmaNoiseZ: 3,
};
