import { rate, ordinal as osOrdinal, rating as osRating } from "openskill";
import { updateBma } from "./gain.ts";
import type { ScoreComponents } from "./combine.ts";
import { defaultScoringOptions, type ScoringOptions } from "./options.ts";

/** A peer's rating across rounds: OpenSkill μ/σ (Plackett-Luce) + the proof-of-training average. */
export interface PeerRating {
  mu: number;
  sigma: number;
  /** Binary moving average of proofOfTraining (Templar's BMA), starts at 0. */
  bma: number;
  /** Rounds this peer took part in a rating update. */
  rounds: number;
  lastRound: number;
}

/** What one round says about one peer: the OpenSkill score (higher is better) and the proof signal. */
export interface RatingObservation {
  score: number;
  proof?: number;
}

export function newRating(options: Pick<ScoringOptions, "openskill"> = defaultScoringOptions): PeerRating {
  const r = osRating({ mu: options.openskill.mu, sigma: options.openskill.sigma });
  return { mu: r.mu, sigma: r.sigma, bma: 0, rounds: 0, lastRound: -1 };
}

/**
 * Whether a verdict enters the round's rating game: an update the validator ran out of time to evaluate
 * ("not_evaluated") says nothing about its author, so its rating and proof average stay as they were.
 */
export function isRated(c: Pick<ScoreComponents, "reason">): boolean {
  return c.reason !== "not_evaluated";
}

/**
 * The OpenSkill observation of a scored update, as Templar: the raw held-out gain, or
 * `disqualifiedScore` (-99) when missing, late, equivocating, invalid, out of sync or a copy.
 */
export function ratingObservation(
  c: ScoreComponents,
  options: Pick<ScoringOptions, "disqualifiedScore"> = defaultScoringOptions,
): RatingObservation {
  const absent = c.reason === "missing" || c.reason === "late" || c.reason === "equivocation";
  const disqualified = absent || c.reason.startsWith("invalid") || c.reason === "out_of_sync" || c.reason === "copy";
  const score = disqualified || !Number.isFinite(c.heldOutGain) ? options.disqualifiedScore : c.heldOutGain;
  return absent ? { score } : { score, proof: c.proof };
}

/**
 * One free-for-all Plackett-Luce game per round over the peers observed in it (Templar's
 * `update_openskill_ratings`): each peer is a one-player team ranked by its score. Peers not observed
 * keep their rating. With fewer than two observed peers there is no game; only `rounds`, `lastRound`
 * and the BMA move. Pure: returns a new map, inputs untouched. Players are ordered by address so the
 * result does not depend on map insertion order.
 */
export function updateRatings(
  ratings: ReadonlyMap<string, PeerRating>,
  roundScores: ReadonlyMap<string, number | RatingObservation>,
  options: { round: number } & Partial<ScoringOptions> = { round: 0 },
): Map<string, PeerRating> {
  const opts = { ...defaultScoringOptions, ...options };
  const out = new Map<string, PeerRating>(ratings);
  const players = [...roundScores.keys()].sort();
  const obs = players.map((p) => {
    const o = roundScores.get(p)!;
    return typeof o === "number" ? { score: o } : o;
  });
  const current = players.map((p) => ratings.get(p) ?? newRating(opts));
  let rated = current.map((r) => ({ mu: r.mu, sigma: r.sigma }));
  if (players.length >= 2) {
    const os = opts.openskill;
    const result = rate(
      rated.map((r) => [r]),
      {
        score: obs.map((o) => (Number.isFinite(o.score) ? o.score : opts.disqualifiedScore)),
        beta: os.beta,
        tau: os.tau,
        mu: os.mu,
        sigma: os.sigma,
        z: os.z,
      },
    );
    rated = result.map((team) => ({ mu: team[0].mu, sigma: team[0].sigma }));
  }
  players.forEach((p, i) => {
    const prev = current[i];
    const proof = obs[i].proof;
    out.set(p, {
      mu: rated[i].mu,
      sigma: rated[i].sigma,
      bma: proof === undefined ? prev.bma : updateBma(prev.bma, proof, opts.bmaDecay),
      rounds: prev.rounds + 1,
      lastRound: options.round,
    });
  });
  return out;
}

/** Conservative skill μ − z·σ (OpenSkill's ordinal; 0 for a new peer with the defaults). */
export function ordinal(
  r: Pick<PeerRating, "mu" | "sigma">,
  options: Pick<ScoringOptions, "openskill"> = defaultScoringOptions,
): number {
  return osOrdinal(r, { z: options.openskill.z });
}

/** 1 / (1 + exp(−ordinal / scale)): 0.5 for a new peer, → 1 for a consistently strong one. */
export function ratingFactor(ord: number, scale = defaultScoringOptions.ratingScale): number {
  return 1 / (1 + Math.exp(-ord / scale));
}

/**
 * The score a validator submits on chain for a peer, in [0, 1]:
 *   roundScore × ratingFactor(ordinal(rating)) × (bma gate)
 * where the gate is 0 once a peer has `bmaMinRounds` rated rounds and its BMA is below `bmaFloor`
 * (Templar's rule), else 1. A new honest peer earns from its first round (factor 0.5) — a permissionless
 * network must pay newcomers — while the rating rewards consistency across rounds.
 */
export function contractScore(
  roundScore: number,
  r: PeerRating | undefined,
  options: Partial<ScoringOptions> = {},
): number {
  const opts = { ...defaultScoringOptions, ...options };
  if (!(roundScore > 0)) return 0;
  const rt = r ?? newRating(opts);
  if (rt.rounds >= opts.bmaMinRounds && rt.bma < opts.bmaFloor) return 0;
  return Math.min(1, roundScore) * ratingFactor(ordinal(rt, opts), opts.ratingScale);
}
