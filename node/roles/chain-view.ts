import type { Provider } from "ethers";
import type { Logger } from "pino";
import {
  type ChainEvent,
  EventIndexer,
  type PayloadEntry,
  type TrainingRunClient,
  memoryCursor,
} from "../chain/index.ts";
import { type Hash32, parseHash32 } from "../hash/index.ts";

/** What the chain says about one finalized round. */
export interface FinalizedRound {
  round: number;
  /** H(θ_{round+1}). */
  modelHash: Hash32;
  /** keccak256 of the canonical payload list (0x hex): the exact updates aggregated into modelHash. */
  payloadRoot: string;
  /**
   * The canonical payload list (peer index, payload sha256 hex), from a ScoresSubmitted whose root is
   * payloadRoot; null if no such submission was seen (cannot happen on a consistent chain).
   */
  payloads: PayloadEntry[] | null;
  /** Peer indices of the canonical payload list. */
  included: number[];
  /** Peer indices of the next round's gather set. */
  gatherSet: number[];
  blockNumber: number;
  transactionHash: string;
}

export interface RecordedCheckpoint {
  round: number;
  modelHash: Hash32;
  uri: string;
}

/** A validator's submission as emitted (ScoresSubmitted). */
export interface SubmittedScores {
  round: number;
  validator: string;
  modelHash: Hash32;
  payloadRoot: string;
  /** The updates it aggregated (peer index, payload sha256 hex). */
  payloads: PayloadEntry[];
  included: number[];
  components: number[][];
}

export interface ChainViewDependencies {
  client: TrainingRunClient;
  provider: Provider;
  logger: Logger;
}

/**
 * The contract's history as the roles need it, from its events (DESIGN step 7): finalized rounds with
 * their model hash, payload root and list, included set and next gather set, skipped rounds,
 * checkpoints and validators' submissions. Indexed from the deployment block at every start (a run's
 * events are few); waiters resolve as events land.
 *
 * A round finalized as skipped (no quorum: RoundSkipped) is kept out of `finalized` — nodes treat it
 * like a round nobody scored — and listed in `skipped`; `isSettled` covers both.
 */
export class ChainView {
  readonly finalized = new Map<number, FinalizedRound>();
  readonly skipped = new Set<number>();
  readonly submissions = new Map<number, SubmittedScores[]>();
  /** The newest checkpoint recorded (the last one recorded for the newest round). */
  checkpoint: RecordedCheckpoint | null = null;
  /** Every checkpoint recorded, in chain order (a later one for the same round may replace a bad uri). */
  readonly checkpoints: RecordedCheckpoint[] = [];
  private readonly indexer: EventIndexer;
  private readonly waiters = new Set<() => void>();

  constructor(
    opts: { fromBlock: number; pollMs: number },
    private readonly deps: ChainViewDependencies,
  ) {
    this.indexer = new EventIndexer(
      { fromBlock: opts.fromBlock, pollIntervalMs: opts.pollMs },
      {
        contract: deps.client.contract,
        provider: deps.provider,
        cursor: memoryCursor(),
        onEvent: (e) => this.onEvent(e),
      },
    );
  }

  async start(): Promise<void> {
    await this.indexer.syncOnce();
    this.indexer.start((err) => this.deps.logger.warn({ err: String(err) }, "chain indexer poll failed; retrying"));
  }

  async stop(): Promise<void> {
    await this.indexer.stop();
  }

  /** Re-reads the chain now (after our own transaction, so its events are visible at once). */
  async sync(): Promise<void> {
    await this.indexer.syncOnce();
  }

  /** True once `round` is finalized or skipped (nothing left to finalize). */
  isSettled(round: number): boolean {
    return this.finalized.has(round) || this.skipped.has(round);
  }

  lastFinalized(): FinalizedRound | undefined {
    let best: FinalizedRound | undefined;
    for (const f of this.finalized.values()) if (!best || f.round > best.round) best = f;
    return best;
  }

  /**
   * Gather set for `round`: the set chosen when round−1 was finalized, else the newest one before it;
   * null while nothing is finalized (then every registered peer is gathered: DESIGN step 5).
   */
  gatherSetFor(round: number): number[] | null {
    for (let r = round - 1; r >= 0; r--) {
      const f = this.finalized.get(r);
      if (f) return f.gatherSet;
    }
    return null;
  }

  /** Resolves when `pred` holds (checked after each batch of events) or after `timeoutMs` with false. */
  async waitFor(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    if (pred()) return true;
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(ok);
      };
      const check = () => {
        if (pred()) done(true);
      };
      const timer = setTimeout(() => done(pred()), timeoutMs);
      this.waiters.add(check);
    });
  }

  private onEvent(e: ChainEvent): void {
    if (e.name === "RoundFinalized") {
      const { round, payloadRoot } = e.args;
      const source = this.submissions.get(round)?.find((s) => s.payloadRoot === payloadRoot);
      this.finalized.set(round, {
        round,
        modelHash: parseHash32(e.args.modelHash, "modelHash"),
        payloadRoot,
        payloads: source?.payloads ?? null,
        included: e.args.included,
        gatherSet: e.args.gatherSet,
        blockNumber: e.blockNumber,
        transactionHash: e.transactionHash,
      });
    } else if (e.name === "RoundSkipped") {
      this.skipped.add(e.args.round);
    } else if (e.name === "CheckpointRecorded") {
      const cp = { round: e.args.round, modelHash: parseHash32(e.args.modelHash, "modelHash"), uri: e.args.uri };
      this.checkpoints.push(cp);
      if (!this.checkpoint || cp.round >= this.checkpoint.round) this.checkpoint = cp;
    } else if (e.name === "ScoresSubmitted") {
      const { round } = e.args;
      const list = this.submissions.get(round) ?? [];
      const validator = e.args.validator.toLowerCase();
      if (!list.some((s) => s.validator === validator)) {
        list.push({
          round,
          validator,
          modelHash: parseHash32(e.args.modelHash, "modelHash"),
          payloadRoot: e.args.payloadRoot,
          payloads: e.args.payloads,
          included: e.args.payloads.map((p) => p.index),
          components: e.args.components,
        });
        this.submissions.set(round, list);
      }
    }
    for (const w of [...this.waiters]) w();
  }
}
