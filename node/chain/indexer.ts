import type { Contract, Provider } from "ethers";
import { type ChainEvent, decodeRunEvent } from "./events.ts";
import { defaultIndexerOptions, type IndexerOptions } from "./options.ts";

/**
 * Where the indexer has read up to (the last fully processed block). Injected so the LevelDB store
 * can persist it; `memoryCursor()` is the in-process one.
 */
export interface CursorStore {
  load(): Promise<number | undefined>;
  save(block: number): Promise<void>;
}

export function memoryCursor(start?: number): CursorStore & { value: number | undefined } {
  const c = {
    value: start,
    load: async () => c.value,
    save: async (block: number) => {
      c.value = block;
    },
  };
  return c;
}

export interface IndexerDependencies {
  /** The TrainingRun contract (e.g. `client.contract`); its interface decodes the logs. */
  contract: Contract;
  provider: Provider;
  cursor: CursorStore;
  /** Called once per event, in chain order; the cursor advances only after a whole batch succeeded. */
  onEvent: (event: ChainEvent) => Promise<void> | void;
  /** Called after each completed sync with the block it read up to (head − confirmations). */
  onSynced?: (block: number) => Promise<void> | void;
}

/**
 * Reads TrainingRun's events in block ranges and hands them over in order, resuming from the cursor.
 * Delivery is at-least-once: a crash between handling a batch and saving the cursor replays that
 * batch, so handlers must be idempotent (key writes by block/logIndex).
 */
export class EventIndexer {
  private readonly opts: IndexerOptions;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private stopped = true;

  constructor(
    options: Partial<IndexerOptions>,
    private readonly deps: IndexerDependencies,
  ) {
    this.opts = { ...defaultIndexerOptions, ...options };
  }

  /** Reads everything up to head − confirmations; resolves with the number of events delivered. */
  syncOnce(): Promise<number> {
    // One sync at a time: a poll tick and an explicit call must not both deliver a range.
    this.running ??= this.sync().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async sync(): Promise<number> {
    const { contract, provider, cursor, onEvent } = this.deps;
    const head = (await provider.getBlockNumber()) - this.opts.confirmations;
    const saved = await cursor.load();
    let from = saved === undefined ? this.opts.fromBlock : saved + 1;
    let delivered = 0;
    while (from <= head) {
      const to = Math.min(head, from + this.opts.batchSize - 1);
      const logs = await contract.queryFilter("*", from, to);
      const events = logs
        .map((log) => decodeRunEvent(contract.interface, log))
        .filter((e): e is ChainEvent => e !== null)
        .sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
      for (const ev of events) await onEvent(ev);
      delivered += events.length;
      await cursor.save(to);
      from = to + 1;
    }
    await this.deps.onSynced?.(head);
    return delivered;
  }

  /** Polls every pollIntervalMs until stop(); errors are passed to `onError` and polling goes on. */
  start(onError: (err: unknown) => void = () => {}): void {
    if (!this.stopped) return;
    this.stopped = false;
    const tick = async () => {
      try {
        await this.syncOnce();
      } catch (err) {
        onError(err);
      }
      if (!this.stopped) this.timer = setTimeout(tick, this.opts.pollIntervalMs);
    };
    void tick();
  }

  /** Stops polling and waits for a sync in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }
}
