import { encodeChainComponents } from "../scoring/chain-components.ts";
import {
  type PeerRating,
  contractScore,
  isRated,
  proofGateFloor,
  ratingObservation,
  toUint16Score,
  updateRatings,
} from "../scoring/index.ts";
import type { RatingRepository } from "../store/index.ts";
import type { PeerVerdict } from "./scorer.ts";

/** A round's scores as the contract takes them: one entry per registered peer, in registry order. */
export interface RoundScores {
  scores: number[];
  components: number[][];
}

/**
 * The validator's ratings across rounds (OpenSkill + proof-of-training average, node/scoring) and the
 * scores it submits. `rate` computes a round without changing what is held; `commit` stores the round's
 * ratings and score history in one batch and only then adopts them, so a round retried after a failure
 * is not counted twice.
 */
export class ScoreBook {
  private ratings = new Map<string, PeerRating>();
  private pending: { round: number; ratings: Map<string, PeerRating> } | null = null;

  constructor(private readonly deps: { ratings: Pick<RatingRepository, "all" | "commitRound"> }) {}

  async load(): Promise<void> {
    this.ratings = new Map([...(await this.deps.ratings.all())].map(([a, r]) => [a, r as PeerRating]));
  }

  rate(
    round: number,
    verdicts: ReadonlyMap<string, PeerVerdict>,
    peers: readonly string[],
    lossBefore: number,
  ): RoundScores {
    const observed = new Map(
      [...verdicts].filter(([, v]) => isRated(v.components)).map(([a, v]) => [a, ratingObservation(v.components)]),
    );
    const ratings = updateRatings(this.ratings, observed, { round });
    // the gate's reference: peers whose proof was measured this round (a copy's -1 is a placeholder)
    const measured = [...verdicts].filter(([, v]) => v.components.reason === "ok" || v.components.reason === "no_gain");
    const proofFloor = proofGateFloor(measured.map(([a]) => ratings.get(a)!));
    this.pending = { round, ratings };
    const missing = encodeChainComponents({ heldOutLossBefore: lossBefore, missing: true, reason: "missing" });
    return {
      scores: peers.map((a) => {
        const v = verdicts.get(a);
        return toUint16Score(v ? contractScore(v.components.final, ratings.get(a), { proofFloor }) : 0);
      }),
      components: peers.map((a) => verdicts.get(a)?.chain ?? missing),
    };
  }

  async commit(round: number, verdicts: ReadonlyMap<string, PeerVerdict>): Promise<void> {
    if (this.pending?.round !== round) throw new Error(`ScoreBook.commit(${round}) without rate(${round})`);
    const history = [...verdicts.values()].map((v) => ({
      round,
      address: v.address,
      final: v.components.final,
      reason: v.components.reason,
    }));
    await this.deps.ratings.commitRound(round, this.pending.ratings, history);
    this.ratings = this.pending.ratings;
    this.pending = null;
  }
}
