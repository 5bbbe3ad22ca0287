import type { ModelState } from "./state-store.ts";
import { sleep } from "./timing.ts";

/**
 * The newest models of a peer, shared by its two loops (peer.ts): the model loop puts θ_{r+1} after each
 * outer step (or where a catch-up landed); the training loop starts a round from the newest one when it
 * has nothing better, and moves onto θ_r as soon as it is here. Holds the newest `keep` models.
 */
export class ModelLine {
  private readonly models = new Map<number, ModelState>();
  private changed: { promise: Promise<void>; resolve: () => void } = deferred();

  constructor(private readonly keep = 2) {}

  put(state: ModelState): void {
    this.models.set(state.round, state);
    const newest = this.newest().round;
    for (const r of this.models.keys()) if (r <= newest - this.keep) this.models.delete(r);
    const { resolve } = this.changed;
    this.changed = deferred();
    resolve();
  }

  /** θ_round if held. */
  get(round: number): ModelState | undefined {
    return this.models.get(round);
  }

  /** The newest model held (the line always holds one: the state loaded at start). */
  newest(): ModelState {
    let best: ModelState | undefined;
    for (const m of this.models.values()) if (!best || m.round > best.round) best = m;
    if (!best) throw new Error("ModelLine is empty");
    return best;
  }

  /**
   * θ_round once held; null when the line moved past `round` without it (a catch-up jumped over it),
   * when `giveUp()` turns true, or when `signal` aborts.
   */
  async waitFor(round: number, giveUp: () => boolean, signal: AbortSignal): Promise<ModelState | null> {
    for (;;) {
      const m = this.models.get(round);
      if (m) return m;
      if (signal.aborted || giveUp() || this.newest().round > round) return null;
      await Promise.race([this.changed.promise, sleep(250, signal)]);
    }
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
