import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { DEV_CHAIN_ID, type Deployment, RoundClock, TrainingRunClient, createProvider } from "../chain/index.ts";
import { ConfigError, type NodeConfig, readJsonFile, readRunConfig } from "../config/index.ts";
import { loadKeyFile } from "../identity/index.ts";
import { createLogger } from "../logger/index.ts";
import { createMetrics, startMetricsServer } from "../metrics/index.ts";
import { initParams, maxCheckpointBytes, modelPresets, paramSpecs } from "../model/index.ts";
import { createP2PNode, defaultP2POptions, defaultRelayServerLimits } from "../p2p/index.ts";
import { largestCompression, maxUpdateBytes } from "../sparseloco/index.ts";
import { Store } from "../store/index.ts";
import { defaultEngineOptions, openEngine } from "../train/index.ts";
import { ChainView } from "./chain-view.ts";
import { Checkpointer } from "./checkpointer.ts";
import { datasetResolver } from "./datasets.ts";
import { ParticipantDirectory } from "./directory.ts";

import { startChainDiscovery } from "./discovery.ts";
import { type RoleHooks, honestPublish } from "./hooks.ts";
import { UpdateInbox } from "./inbox.ts";
import { ensureRegistered, ensureStaked } from "./membership.ts";
import { type RoleOptions, defaultRoleOptions } from "./options.ts";
import { Publisher } from "./publisher.ts";
import { RoundKeeper } from "./round-keeper.ts";
import { ScoreBook } from "./score-book.ts";
import { Scorer, earlierPayloads } from "./scorer.ts";
import { StagePlan } from "./stage-plan.ts";
import type { PeerServices, ValidatorServices } from "./services.ts";
import { StateStore } from "./state-store.ts";
import { Heartbeat } from "./status.ts";
import { TimeBudget, defaultTimeBudgetOptions } from "./time-budget.ts";
import { RoundTrainer } from "./trainer.ts";
import { ValidatorChain } from "./validator-chain.ts";

/** How long a peer waits for a public or relayed address before registering (without one: no addresses). */
const REGISTER_ADDRS_WAIT_MS = 15_000;

export type Role = "peer" | "validator";

/** A started node: its role's services (see services.ts), its logger, and `close()` in reverse order. */
export type RunContext = (
  | { role: "peer"; services: PeerServices }
  | { role: "validator"; services: ValidatorServices }
) & { logger: Logger; close(): Promise<void> };

export interface OpenContextDependencies {
  /** Password source for an encrypted keystore (the CLI prompts or reads a file). */
  password: () => Promise<string>;
  logger?: Logger;
  /** Behaviour an embedding program wraps around the roles' steps (hooks.ts); the CLI passes none. */
  hooks?: RoleHooks;
}

/**
 * The one assembly point of a node (Lodestar's node/nodejs.ts): components first (logger, metrics,
 * chain, data, engine, store, p2p), then the role's services, each handed only the components it
 * uses. Everything opened is closed in reverse order, also when a later step fails.
 */
export async function openRunContext(
  role: Role,
  config: NodeConfig,
  options: Partial<RoleOptions>,
  deps: OpenContextDependencies,
): Promise<RunContext> {
  const closers: Array<() => Promise<void> | void> = [];
  const close = async () => {
    for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => {});
    closers.length = 0;
  };
  try {
    const opts = { ...defaultRoleOptions, ...options };
    mkdirSync(config.dataDir, { recursive: true });
    const logger = deps.logger ?? createLogger({ level: config.logLevel, name: `cotrain-${role}` });

    const run = readRunConfig(config.runConfig);
    const deployment = readJsonFile(config.deployment, "deployment") as Deployment;
    if (typeof deployment?.address !== "string") {
      // A published network file has `contract` and `bootstrap` instead: say which flag takes it.
      const isNetworkFile = typeof (deployment as { contract?: unknown })?.contract === "string";
      throw new ConfigError(
        "deployment",
        isNetworkFile
          ? `${config.deployment} is a network file, not a deployment: pass it as --network (cotrain validator) or to cotrain join`
          : `${config.deployment} has no contract address`,
      );
    }

    const identity = await loadKeyFile(config.key, deps.password);
    const address = identity.address.toLowerCase();
    const log = logger.child({ module: role, address });

    const metrics = createMetrics(role);
    let metricsUrl: string | null = null;
    if (config.metricsPort >= 0) {
      const server = await startMetricsServer({ port: config.metricsPort, host: config.metricsHost }, metrics.registry);
      closers.push(() => server.close());
      metricsUrl = server.url;
    }

    const provider = createProvider(config.rpc);
    closers.push(() => provider.destroy());
    const wallet = identity.wallet.connect(provider);
    const client = new TrainingRunClient({ address: deployment.address }, { runner: wallet });
    const runParams = await client.runParams();
    const clock = new RoundClock(runParams, { provider });
    await clock.sync();

    // The chain's config timeline against the file's stage prefixes (entry 0 is the deploy-time
    // configHash), re-checked every round; the datasets of every stage on chain are found now.
    const stages = new StagePlan(
      { runConfig: config.runConfig },
      {
        timeline: () => client.configTimeline(),
        readRunConfig,
        dataset: datasetResolver(config, { logger: log }),
        logger: log,
      },
    );
    await stages.refresh(Math.max(0, clock.currentRound()));
    const dataset = (await stages.at(0)).dataset;

    const model = modelPresets[run.model.preset];
    const specs = paramSpecs(model);
    const t = run.train;
    const { engine, backend } = await openEngine(
      {
        backend: config.backend,
        optimizer: t.optimizer,
        lr: stages.lr("adamw"),
        weightDecay: t.weightDecay,
        muon: {
          ...defaultEngineOptions.muon,
          lr: stages.lr("muon"),
          momentum: t.muonMomentum,
        },
        // tfjs on its own thread: a node's networking must run while it trains (worker-engine.ts)
        thread: "worker",
      },
      { config: model, log: (msg) => log.info(msg) },
    );
    closers.push(() => engine.dispose());

    const store = await Store.open(
      { dataDir: join(config.dataDir, "db"), blobRetentionRounds: opts.blobRetentionRounds },
      { logger: log },
    );
    closers.push(() => store.close());

    const directory = new ParticipantDirectory(client);
    await directory.refresh(true);
    const chain = new ChainView(
      { fromBlock: deployment.block, pollMs: opts.pollMs },
      { client, provider, logger: log },
    );
    await chain.start();
    closers.push(() => chain.stop());

    // resource bounds from the model (issue 16): nothing larger than these is fetched, stored or served
    const updateBound = maxUpdateBytes(specs, largestCompression(run.sparseloco));
    const checkpointBound = maxCheckpointBytes(model);
    const { chainId } = await provider.getNetwork();
    const p2p = await createP2PNode(
      {
        runId: run.runId,
        listen: config.listen,
        bootstrap: config.bootstrap,
        announce: config.announce,
        nat: {
          ...defaultP2POptions.nat,
          relay: config.relay ? { ...defaultRelayServerLimits, maxReservations: config.relayMaxReservations } : null,
        },
        maxUpdateBytes: updateBound,
        maxCheckpointBytes: checkpointBound,
        updateSamples: { min: t.minInnerSteps * t.batchSize, max: t.innerSteps * t.batchSize },
        blobMaxBytes: Math.max(updateBound, checkpointBound),
        allowPrivateAddresses: config.allowPrivateAddresses || Number(chainId) === DEV_CHAIN_ID,
      },
      {
        identity,
        isRegistered: (a) => directory.isParticipant(a),
        currentRound: () => clock.currentRound(),
        blobStore: store.blobs.p2pView(() => ({ kind: "update", round: Math.max(0, clock.currentRound()) })),
        registry: metrics.registry,
        logger: logger.child({ module: "p2p" }),
      },
    );
    closers.push(() => p2p.stop());
    // Dial every registered peer (chain metadata): losing the bootstrap node must not partition the run.
    const discovery = startChainDiscovery({ client, deployment, p2p, logger: log });
    closers.push(() => discovery.stop());
    // Operators and tests find this node's addresses here (port 0 picks a free port); written whole
    // (tmp + rename) so a reader polling for it never sees a half-written file.
    writeFileSync(join(config.dataDir, "multiaddrs.json.tmp"), JSON.stringify(p2p.multiaddrs.map(String)));
    renameSync(join(config.dataDir, "multiaddrs.json.tmp"), join(config.dataDir, "multiaddrs.json"));

    // The role's services, each with only what it uses.
    const state = new StateStore(
      { errorFeedback: role === "peer" },
      { store: store, specs, genesisParams: () => initParams(model, run.model.seed) },
    );
    const self = { address, peerId: p2p.peerId };
    const inbox = new UpdateInbox(
      { runId: run.runId, decode: run.sparseloco },
      { p2p, blobs: store.blobs, specs, self, logger: log },
    );
    const keeper = new RoundKeeper(
      { fetchTimeoutMs: opts.fetchTimeoutMs, outer: run.sparseloco },
      { address, chain, peers: directory, inbox, state, store, p2p, specs, metrics, logger: log },
    );
    const heartbeat = new Heartbeat({ role, backend: backend.backend, everyMs: opts.statusEveryMs }, { p2p });
    const common = { logger: log, clock, options: opts, state, keeper, heartbeat };
    log.info(
      { peerId: p2p.peerId.toString(), multiaddrs: p2p.multiaddrs.map(String), backend: backend.backend, metricsUrl },
      "node started",
    );

    if (role === "peer") {
      const publish = deps.hooks?.publish
        ? await deps.hooks.publish({
            address,
            logger: log,
            clock,
            inbox,
            p2p,
            specs,
            decode: run.sparseloco,
            chainId: { rpc: Number((await provider.getNetwork()).chainId), deployment: deployment.chainId },
          })
        : honestPublish;
      const innerStep = deps.hooks?.innerStep?.({ logger: log });
      const services: PeerServices = {
        ...common,
        register: () =>
          ensureRegistered({
            address,
            // only public or relayed addresses go on chain (private ones on a dev chain): behind NAT that is
            // the relay reservation, which takes a moment after the first connection to a relay
            multiaddrs: async () => (await p2p.waitForAdvertisedAddrs(REGISTER_ADDRS_WAIT_MS)).map(String),
            client,
            peers: directory,
            logger: log,
          }),
        trainer: new RoundTrainer(
          { runId: run.runId, innerSteps: t.innerSteps, batchSize: t.batchSize, seqLen: model.seqLen },
          {
            address,
            engine,
            specs,
            dataset,
            stages,
            clock,
            budget: new TimeBudget({ ...defaultTimeBudgetOptions, minSteps: t.minInnerSteps }),
            innerStep,
            metrics,
          },
        ),
        publisher: new Publisher(
          { sparseloco: run.sparseloco },
          { address, specs, state, blobs: store.blobs, p2p, inbox, publish, metrics, logger: log },
        ),
      };
      return { role, services, logger: log, close };
    }
    const v = run.validator;
    const services: ValidatorServices = {
      ...common,
      stake: () => ensureStaked({ address, stake: config.stake, minStake: runParams.minStake, client, logger: log }),
      peers: directory,
      scorer: new Scorer(
        {
          runId: run.runId,
          seqLen: model.seqLen,
          batchSize: t.batchSize,
          innerSteps: t.innerSteps,
          heldoutSamples: v.heldoutSamples,
          ownSamples: v.ownSamples,
          alpha: run.sparseloco.alpha,
          evalLrFactor: v.evalLrFactor,
          copyThreshold: v.copyThreshold,
          denseRounds: run.sparseloco.denseRounds,
        },
        // every stage in effect up to the round, per round from the chain's config timeline (stage-plan.ts)
        { engine, dataset, stages, specs, metrics },
      ),
      scores: new ScoreBook({ ratings: store.ratings }),
      chainWriter: new ValidatorChain(
        { txMarginSeconds: opts.txMarginSeconds },
        { address, client, provider, chain, clock, submissions: store.submissions, metrics, logger: log },
      ),
      checkpointer: new Checkpointer(
        { every: v.checkpointEvery },
        { model, chain, blobs: store.blobs, p2p, client, logger: log },
      ),
      earlierPayloads: (round) => earlierPayloads(inbox, round),
    };
    return { role, services, logger: log, close };
  } catch (err) {
    await close();
    throw err;
  }
}
