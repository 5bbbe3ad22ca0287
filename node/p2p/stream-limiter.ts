/** Why a stream slot was refused (metric label `reason`). */
export type SlotRefusal = "peer_limit" | "global_limit";

/**
 * Concurrent streams a server serves: at most `perPeer` per remote peer and `global` in total. libp2p's
 * own `maxInboundStreams` is per connection and resets the stream without a word; this one lets the
 * server answer BUSY, so an honest requester moves on to another provider instead of blaming us.
 */
export class StreamLimiter {
  private readonly perPeer = new Map<string, number>();
  private active = 0;

  constructor(
    private readonly limits: { perPeer: number; global: number },
    private readonly onChange?: (active: number) => void,
  ) {}

  get size(): number {
    return this.active;
  }

  /** A release function for the slot, or why there is none. Call release exactly once. */
  acquire(peer: string): { release: () => void } | { refused: SlotRefusal } {
    const mine = this.perPeer.get(peer) ?? 0;
    if (mine >= this.limits.perPeer) return { refused: "peer_limit" };
    if (this.active >= this.limits.global) return { refused: "global_limit" };
    this.perPeer.set(peer, mine + 1);
    this.active++;
    this.onChange?.(this.active);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const n = (this.perPeer.get(peer) ?? 1) - 1;
        if (n === 0) this.perPeer.delete(peer);
        else this.perPeer.set(peer, n);
        this.active--;
        this.onChange?.(this.active);
      },
    };
  }
}
