import type { Provider } from "ethers";
import type { Logger } from "pino";
import {
  type ChainEvent,
  EventIndexer,
  type TrainingRunClient,
  decodeBitmap,
  decodeComponents,
  memoryCursor,
} from "../chain/index.ts";
import { type Hash32, hexToBytes, parseHash32 } from "../hash/index.ts";

/** What the chain says about one finalized round. */
export interface FinalizedRound {
  round: number;
  /** H(θ_{round+1}). */
  modelHash: Hash32;
  /** Peer indices aggregated by a stake majority. */
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
 * their model hash, included set and next gather set, checkpoints and validators' submissions. Indexed
 * from the deployment block at every start (a run's events are few); waiters resolve as events land.
 */
export class ChainView {
  readonly finalized = new Map<number, FinalizedRound>();
  readonly submissions = new Map<number, SubmittedScores[]>();
  checkpoint: RecordedCheckpoint | null = null;
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
    const a = e.args;
    if (e.name === "RoundFinalized") {
      const round = Number(a.round);
      this.finalized.set(round, {
        round,
        modelHash: parseHash32(a.modelHash as string, "modelHash"),
        included: decodeBitmap(hexToBytes(a.included as string)),
        gatherSet: decodeBitmap(hexToBytes(a.gatherSet as string)),
        blockNumber: e.blockNumber,
        transactionHash: e.transactionHash,
      });
    } else if (e.name === "CheckpointRecorded") {
      const round = Number(a.round);
      if (!this.checkpoint || round > this.checkpoint.round) {
        this.checkpoint = { round, modelHash: parseHash32(a.modelHash as string, "modelHash"), uri: String(a.uri) };
      }
    } else if (e.name === "ScoresSubmitted") {
      const round = Number(a.round);
      const list = this.submissions.get(round) ?? [];
      const validator = String(a.validator).toLowerCase();
      if (!list.some((s) => s.validator === validator)) {
        list.push({
          round,
          validator,
          modelHash: parseHash32(a.modelHash as string, "modelHash"),
          included: decodeBitmap(hexToBytes(a.included as string)),
          components: decodeComponents(hexToBytes(a.components as string)),
        });
        this.submissions.set(round, list);
      }
    }
    for (const w of [...this.waiters]) w();
  }
}
