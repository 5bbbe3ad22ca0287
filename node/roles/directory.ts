import { ZeroAddress } from "ethers";
import type { TrainingRunClient } from "../chain/index.ts";

/**
 * Who may take part, from the contract, cached: gossip validation asks on every message, the chain is
 * asked again only for an unknown address and at most once per `refreshMs` (a flood of messages from
 * unregistered senders must not become a flood of RPC calls).
 */
export class ParticipantDirectory {
  private peers: string[] = [];
  private readonly peerIndex = new Map<string, number>();
  private readonly validators = new Set<string>();
  private lastRefresh = 0;
  private refreshing: Promise<void> | null = null;

  constructor(
    private readonly client: TrainingRunClient,
    private readonly refreshMs = 2_000,
  ) {}

  /** Peer addresses (lowercase) by registry index; a freed slot holds the zero address. */
  get peerList(): readonly string[] {
    return this.peers;
  }

  indexOf(address: string): number | undefined {
    return this.peerIndex.get(address.toLowerCase());
  }

  async refresh(force = false): Promise<void> {
    if (!force && Date.now() - this.lastRefresh < this.refreshMs) return;
    if (this.refreshing) return this.refreshing;
    this.refreshing = (async () => {
      try {
        const list = (await this.client.peers()).map((a) => a.toLowerCase());
        this.peers = list;
        // Slots are freed (zero address) and re-let when peers exit or are evicted: rebuild the index.
        this.peerIndex.clear();
        for (const [i, a] of list.entries()) if (a !== ZeroAddress) this.peerIndex.set(a, i);
        this.lastRefresh = Date.now();
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /** Registered peer or staked validator (gossip senders). */
  async isParticipant(address: string): Promise<boolean> {
    const a = address.toLowerCase();
    if (this.peerIndex.has(a) || this.validators.has(a)) return true;
    await this.refresh();
    if (this.peerIndex.has(a)) return true;
    if (await this.client.isValidator(a).catch(() => false)) {
      this.validators.add(a);
      return true;
    }
    return false;
  }
}
