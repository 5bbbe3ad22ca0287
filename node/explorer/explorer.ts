import type { JsonRpcProvider } from "ethers";
import { type ChainEvent, EventIndexer, TrainingRunClient, createProvider, memoryCursor } from "../chain/index.ts";
import type { Logger } from "../logger/index.ts";
import { ExplorerError } from "./errors.ts";
import { ExplorerModel, type IndexedEvent } from "./model.ts";
import { type ExplorerOptionsInput, parseExplorerOptions } from "./options.ts";
import { type EventLog, openEventLog } from "./persist.ts";
import { startHttpServer } from "./server.ts";

export interface ExplorerDependencies {
  logger?: Logger;
  /** A provider to share (the testnet's); otherwise one is created for rpcUrl and destroyed on close. */
  provider?: JsonRpcProvider;
}

export interface ExplorerHandle {
  /** e.g. http://127.0.0.1:8080/ */
  url: string;
  port: number;
  model: ExplorerModel;
  /** Events loaded from the data dir at start (0 without dataDir). */
  restored: number;
  /** Reads new events now (the poll loop does this every pollMs); resolves with how many arrived. */
  sync(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Indexes a TrainingRun's events (node/chain's EventIndexer) into an in-memory ExplorerModel and
 * serves it as JSON plus a static single-page UI. Fails fast when the chain or the contract is not
 * there; after that, RPC errors are logged and polling goes on (the page shows the last state).
 */
export async function startExplorer(
  input: ExplorerOptionsInput,
  deps: ExplorerDependencies = {},
): Promise<ExplorerHandle> {
  const opts = parseExplorerOptions(input);
  const log = deps.logger?.child({ module: "explorer" });
  const provider = deps.provider ?? createProvider(opts.rpcUrl, { pollingIntervalMs: opts.pollMs });
  const ownProvider = !deps.provider;
  let eventLog: EventLog | undefined;
  let indexer: EventIndexer | undefined;
  try {
    const network = await withTimeout(provider.getNetwork(), 10_000).catch((err) => {
      throw new ExplorerError("CHAIN_UNREACHABLE", `no Ethereum JSON-RPC answer at ${opts.rpcUrl}`, { cause: err });
    });
    if ((await provider.getCode(opts.contract)) === "0x") {
      throw new ExplorerError(
        "NO_CONTRACT",
        `no contract at ${opts.contract} on chain ${network.chainId} (wrong --contract or --rpc?)`,
      );
    }
    const client = new TrainingRunClient({ address: opts.contract }, { runner: provider });
    const params = await client.runParams();
    const token = await client.rewardToken();
    const model = new ExplorerModel();
    // Rounds that closed without any event exist only on the clock: the model needs it to list them.
    model.timing = params;

    let cursor = memoryCursor();
    let restored = 0;
    if (opts.dataDir) {
      const deployBlock = await provider.getBlock(opts.fromBlock);
      eventLog = await openEventLog(opts.dataDir, opts.contract, `${network.chainId}:${deployBlock?.hash ?? "none"}`);
      if (eventLog.reset) log?.warn({ dataDir: opts.dataDir }, "stored events belong to another chain; re-indexing");
      for (const ev of await eventLog.load()) if (model.apply(ev)) restored++;
      cursor = eventLog.cursor as typeof cursor;
    }

    // Timestamps per block: every event carries its block's time (rounds table, claim history).
    const times = new Map<number, number>();
    const timeOf = async (block: number) => {
      let t = times.get(block);
      if (t === undefined) {
        t = (await provider.getBlock(block))?.timestamp ?? 0;
        times.set(block, t);
        if (times.size > 1024) times.delete(times.keys().next().value!);
      }
      return t;
    };
    const onEvent = async (ev: ChainEvent) => {
      const indexed: IndexedEvent = { ...ev, timestamp: await timeOf(ev.blockNumber) };
      await eventLog?.append(indexed);
      try {
        model.apply(indexed);
      } catch (err) {
        // Deterministic (a malformed event): retrying the batch would stall indexing forever.
        log?.warn({ event: ev.name, block: ev.blockNumber, err: (err as Error).message }, "event skipped");
      }
    };
    indexer = new EventIndexer(
      {
        fromBlock: opts.fromBlock,
        pollIntervalMs: opts.pollMs,
        batchSize: opts.batchSize,
        confirmations: opts.confirmations,
      },
      {
        contract: client.contract,
        provider,
        cursor,
        onEvent,
        onSynced: async (block) => {
          const time = block >= 0 ? await timeOf(block) : 0;
          model.indexed = { block, time, head: block + opts.confirmations, polls: model.indexed.polls + 1 };
        },
      },
    );
    await indexer.syncOnce();
    indexer.start((err) => log?.warn({ err: (err as Error).message }, "indexing failed; retrying"));

    const info = {
      chainId: Number(network.chainId),
      contract: opts.contract,
      token,
      fromBlock: opts.fromBlock,
      links: { tx: opts.txLinkTemplate ?? null, address: opts.addressLinkTemplate ?? null },
      params: {
        genesis: params.genesis,
        roundSeconds: params.roundSeconds,
        submissionSeconds: params.submissionSeconds,
        scoringSeconds: params.scoringSeconds,
        gatherSize: params.gatherSize,
        validatorShareBps: params.validatorShareBps,
        rewardPerRound: params.rewardPerRound.toString(),
        configHash: params.configHash,
      },
    };
    const http = await startHttpServer({ port: opts.port, host: opts.host }, [
      {
        pattern: /^\/api\/summary$/,
        handler: () => ({ ...info, now: Math.floor(Date.now() / 1000), ...model.summary() }),
      },
      { pattern: /^\/api\/rounds$/, handler: () => model.listRounds() },
      { pattern: /^\/api\/rounds\/(\d{1,9})$/, handler: ([r]) => model.getRound(Number(r)) },
      { pattern: /^\/api\/peers$/, handler: () => model.listPeers() },
      { pattern: /^\/api\/peers\/(0x[0-9a-fA-F]{40})$/, handler: ([a]) => model.getPeer(a) },
    ]);
    log?.info({ url: http.url, contract: opts.contract, events: model.eventCount }, "explorer serving");
    const idx = indexer;
    const evLog = eventLog;
    return {
      url: http.url,
      port: http.port,
      model,
      restored,
      sync: () => idx.syncOnce(),
      async close() {
        await http.close();
        await idx.stop();
        await evLog?.close();
        if (ownProvider) provider.destroy();
      },
    };
  } catch (err) {
    await indexer?.stop();
    await eventLog?.close();
    if (ownProvider) provider.destroy();
    throw err;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
