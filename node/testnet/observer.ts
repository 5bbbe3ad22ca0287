import { Wallet, formatEther } from "ethers";
import type { TrainingRunClient } from "../chain/index.ts";
import type { LocalNetwork } from "./network.ts";
import { type LogLine, LogTail } from "./log-tail.ts";

/** One node as the live status shows it. */
export interface NodeView {
  name: string;
  role: "peer" | "validator";
  address: string;
  /** Last inner-loop loss the peer logged ("update published", losses.trainLast) and its round. */
  trainLoss?: number;
  trainRound?: number;
  tokensPerS?: number;
  /** The peer's train and wall seconds per round ("update published" timings), for utilization. */
  busy: Map<number, { train: number; wall: number }>;
  /** Last score the first validator gave this peer ("update scored", final) and its round. */
  score?: number;
  scoreRound?: number;
  /** Reward tokens, in whole units: accrued but unclaimed, and already claimed (minted balance). */
  pending: number;
  claimed: number;
  /** H(θ_{r+1}) prefixes (16 hex) this node committed, by round r. */
  hashes: Map<number, string>;
  exited: number | null;
}

export interface NetworkSnapshot {
  currentRound: number;
  /** Seconds into the current round (local clock against the deployed genesis). */
  roundElapsed: number;
  roundSeconds: number;
  lastFinalized: number | null;
  /** Rounds finalized since this start. */
  finalizedSinceStart: number;
  /** Held-out loss of θ_r by round r (the first validator's "round scored" lines). */
  heldOut: Map<number, number>;
  nodes: NodeView[];
}

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/**
 * Watches a LocalNetwork from outside, as an operator would: the chain (rounds, rewards) through a
 * read-only client and each node's pino log (losses, scores, committed model hashes). Nothing here
 * reaches into a node process.
 */
export class NetworkObserver {
  readonly nodes: NodeView[];
  readonly heldOut = new Map<number, number>();
  private readonly tails = new Map<string, LogTail>();
  /** Last finalized round when observing began (null: none yet): rounds are counted from here. */
  baseFinalized: number | null = null;
  lastFinalized: number | null = null;
  currentRound = 0;

  constructor(
    private readonly net: LocalNetwork,
    private readonly client: TrainingRunClient,
  ) {
    this.nodes = [...net.nodes.values()].map((n) => {
      const i = Number(n.name.split("-")[1]);
      const key = net.anvil.accounts[net.keyIndex(n.role, i)];
      return {
        name: n.name,
        role: n.role,
        address: new Wallet(key).address.toLowerCase(),
        pending: 0,
        claimed: 0,
        busy: new Map(),
        hashes: new Map(),
        exited: null,
      };
    });
    for (const n of net.nodes.values()) this.tails.set(n.name, new LogTail(n.logFile));
  }

  /**
   * Records the starting point: only rounds that begin after this call count toward --rounds. On a
   * resumed chain the validator first finalizes the rounds that passed while the network was down
   * (nobody trained in them); those are skipped too.
   */
  async begin(): Promise<void> {
    const [last, current] = await Promise.all([this.client.lastFinalizedRound(), this.roundNow()]);
    this.lastFinalized = last;
    this.currentRound = current;
    const base = Math.max(last ?? -1, current - 1);
    this.baseFinalized = base < 0 ? null : base;
  }

  get finalizedSinceStart(): number {
    if (this.lastFinalized === null) return 0;
    return Math.max(0, this.lastFinalized - (this.baseFinalized ?? -1));
  }

  /** Reads new log lines and the chain; resolves with the rounds that finalized since the last poll. */
  async poll(): Promise<number[]> {
    this.readLogs();
    const [current, last] = await Promise.all([this.roundNow(), this.client.lastFinalizedRound()]);
    this.currentRound = current;
    await Promise.all(
      this.nodes.map(async (n) => {
        if (n.role !== "peer") return;
        const [pending, claimed] = await Promise.all([
          this.client.pendingRewards(n.address),
          this.client.tokenBalance(n.address),
        ]);
        n.pending = Number(formatEther(pending));
        n.claimed = Number(formatEther(claimed));
      }),
    );
    const fresh: number[] = [];
    if (last !== null) for (let r = (this.lastFinalized ?? -1) + 1; r <= last; r++) fresh.push(r);
    this.lastFinalized = last;
    return fresh;
  }

  /** The contract's current round; 0 before genesis (where the contract reverts). */
  private roundNow(): Promise<number> {
    return this.client.currentRound().catch(() => 0);
  }

  /** Child exit codes, for the caller to fail fast on a crashed node. */
  exitedNodes(): NodeView[] {
    for (const n of this.nodes) n.exited = this.net.nodes.get(n.name)?.child.exitCode ?? null;
    return this.nodes.filter((n) => n.exited !== null);
  }

  snapshot(): NetworkSnapshot {
    const { genesis, roundSeconds } = this.net.deployment.params;
    const elapsed = Date.now() / 1000 - genesis;
    return {
      currentRound: this.currentRound,
      roundElapsed: elapsed < 0 ? 0 : elapsed % roundSeconds,
      roundSeconds,
      lastFinalized: this.lastFinalized,
      finalizedSinceStart: this.finalizedSinceStart,
      heldOut: this.heldOut,
      nodes: this.nodes,
    };
  }

  readLogs(): void {
    for (const n of this.nodes) {
      for (const line of this.tails.get(n.name)?.poll() ?? []) this.apply(n, line);
    }
  }

  private apply(n: NodeView, l: LogLine): void {
    const round = num(l.round);
    const hash = typeof l.hash === "string" ? l.hash : undefined;
    switch (l.msg) {
      case "update published": {
        const losses = (l.losses ?? {}) as Record<string, unknown>;
        n.trainLoss = num(losses.trainLast) ?? n.trainLoss;
        n.trainRound = round;
        n.tokensPerS = num(l.tokensPerS) ?? n.tokensPerS;
        const t = (l.timings ?? {}) as Record<string, unknown>;
        const train = num(t.train);
        const wall = num(t.wall);
        if (round !== undefined && train !== undefined && wall !== undefined && wall > 0)
          n.busy.set(round, { train, wall });
        break;
      }
      // Both carry H(θ_{r+1}) for round r.
      case "outer step applied":
        if (round !== undefined && hash) n.hashes.set(round, hash);
        break;
      case "round scored":
        if (round !== undefined && hash) n.hashes.set(round, hash);
        if (round !== undefined && num(l.heldOutLoss) !== undefined && n.name === "validator-0")
          this.heldOut.set(round, l.heldOutLoss as number);
        break;
      // Round r replayed from the chain (caught up, or repaired after our outer step left the chain's
      // path): H(θ_{r+1}) for round r, replacing the outer step's.
      case "caught up one round":
      case "replayed the chain's round":
        if (round !== undefined && hash) n.hashes.set(round, hash);
        break;
      // The state it loaded: round r+1 holding H(θ_{r+1}).
      case "loaded on-chain checkpoint":
        if (round !== undefined && hash) n.hashes.set(round - 1, hash);
        break;
      case "update scored": {
        const peer = typeof l.peer === "string" ? l.peer.toLowerCase() : "";
        const target = this.nodes.find((p) => p.address === peer);
        if (target && n.name === "validator-0") {
          target.score = num(l.final) ?? 0;
          target.scoreRound = round;
        }
        break;
      }
    }
  }
}

/**
 * A peer's utilization, train seconds / wall seconds, over its rounds after the first `skip` it
 * published (the first rounds include the wait for genesis and the start-up); undefined before then.
 * Each round's wall time runs from the end of the peer's previous inner loop, so rounds it skipped count.
 */
export function utilizationOf(n: Pick<NodeView, "busy">, skip = 2): number | undefined {
  const rounds = [...n.busy.keys()].sort((a, b) => a - b).slice(skip);
  if (rounds.length === 0) return undefined;
  let train = 0;
  let wall = 0;
  for (const r of rounds) {
    const b = n.busy.get(r)!;
    train += b.train;
    wall += b.wall;
  }
  return wall > 0 ? train / wall : undefined;
}
