import { rate, ordinal as osOrdinal, rating as osRating } from "openskill";
import { lowerMedian } from "../sparseloco/median.ts";
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
 * A peer's proof-of-training average without the start-at-0 bias: bma / (1 − decay^rounds) (Adam's
 * bias correction, Kingma & Ba 2015). Templar compares the raw BMA with 0.1, which after 10 rounds at
 * decay 0.95 needs a mean proof ≥ 0.25; the corrected average estimates the mean proof itself.
 * `rounds` also counts rounds without a proof (absent), which only pulls the estimate towards 0.
 */
export function proofMean(
  r: Pick<PeerRating, "bma" | "rounds">,
  options: Pick<ScoringOptions, "bmaDecay"> = defaultScoringOptions,
): number {
  if (r.rounds <= 0) return 0;
  return r.bma / (1 - options.bmaDecay ** r.rounds);
}

/** Fewest peers whose proof averages make a reference for the gate. */
const GATE_MIN_PEERS = 3;

/**
 * The round's proof gate (issue 16): the proof-average floor below which a peer with `bmaMinRounds`
 * rated rounds gets a contract score of 0. `ratings` are the ratings, after this round, of the peers
 * that had a proof this round. The floor sits `max(bmaMargin, bmaNoiseZ × 1.4826 × MAD)` below their
 * median (a robust 3σ of the noise the round itself shows, so peers whose gains differ by noise are
 * never cut) and never above `bmaFloor` (Templar's level, so a majority of sybils that push the median
 * up can at most restore Templar's fixed gate). -Infinity (no gate) with fewer than 3 eligible peers.
 */
export function proofGateFloor(ratings: Iterable<PeerRating>, options: Partial<ScoringOptions> = {}): number {
  const opts = { ...defaultScoringOptions, ...options };
  const means = [...ratings].filter((r) => r.rounds >= opts.bmaMinRounds).map((r) => proofMean(r, opts));
  if (means.length < GATE_MIN_PEERS) return Number.NEGATIVE_INFINITY;
  const median = lowerMedian(means);
  const mad = lowerMedian(means.map((m) => Math.abs(m - median)));
  return Math.min(opts.bmaFloor, median - Math.max(opts.bmaMargin, opts.bmaNoiseZ * 1.4826 * mad));
}

/**
 * The score a validator submits on chain for a peer, in [0, 1]:
 *   roundScore × ratingFactor(ordinal(rating)) × (proof gate)
 * where the gate is 0 once a peer has `bmaMinRounds` rated rounds and its bias-corrected proof average
 * (`proofMean`) is below `proofFloor` (the round's `proofGateFloor`; default `bmaFloor`, Templar's
 * fixed rule), else 1. A new honest peer earns from its first round (factor 0.5) — a permissionless
 * network must pay newcomers — while the rating rewards consistency across rounds.
 */
export function contractScore(
  roundScore: number,
  r: PeerRating | undefined,
  options: Partial<ScoringOptions> & { proofFloor?: number } = {},
): number {
  const opts = { ...defaultScoringOptions, ...options };
  if (!(roundScore > 0)) return 0;
  const rt = r ?? newRating(opts);
  if (rt.rounds >= opts.bmaMinRounds && proofMean(rt, opts) < (options.proofFloor ?? opts.bmaFloor)) return 0;
  return Math.min(1, roundScore) * ratingFactor(ordinal(rt, opts), opts.ratingScale);
}
