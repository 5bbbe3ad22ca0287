import type { SignedGossip } from "./pb/sync.ts";
import type { GossipSender } from "./validation.ts";

/**
 * Proof that an author signed two different announcements for one round (one update per peer per round):
 * both signed envelopes, as received. Anyone can check them with `verifySigned` and the author's PeerId,
 * so the proof does not rest on our word.
 */
export interface Equivocation {
  round: number;
  author: GossipSender;
  /** The envelope accepted first, then the conflicting one. */
  envelopes: [SignedGossip, SignedGossip];
}

/**
 * The equivocations seen in the last `retainRounds` rounds, one per author per round (the first proof
 * is enough; later versions add nothing). Only registered authors get this far in validation, so the
 * record is bounded by registered peers × retained rounds.
 */
export class EquivocationRecord {
  private readonly byRound = new Map<number, Map<string, Equivocation>>();

  constructor(private readonly retainRounds: number) {}

  /** Keeps `e`; false when this author's equivocation of that round is already on record. */
  add(e: Equivocation): boolean {
    let perRound = this.byRound.get(e.round);
    if (!perRound) {
      perRound = new Map();
      this.byRound.set(e.round, perRound);
      const newest = Math.max(...this.byRound.keys());
      for (const r of this.byRound.keys()) if (r <= newest - this.retainRounds) this.byRound.delete(r);
      if (!this.byRound.has(e.round)) return false; // older than the retention window
    }
    const key = e.author.peerId.toString();
    if (perRound.has(key)) return false;
    perRound.set(key, e);
    return true;
  }

  of(round: number): Equivocation[] {
    return [...(this.byRound.get(round)?.values() ?? [])];
  }
}
