import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { JsonRpcProvider } from "ethers";
import type { Logger } from "pino";
import { type Deployment, RoundClock, type RunParams, TrainingRunClient, createProvider } from "../chain/index.ts";
import {
  ConfigError,
  type NodeConfig,
  type RunConfig,
  readJsonFile,
  runConfigHash,
  runConfigSchema,
} from "../config/index.ts";
import { type Dataset, loadDataset, prepareDataset } from "../data/index.ts";
import { type Identity, loadKeyFile } from "../identity/index.ts";
import { createLogger } from "../logger/index.ts";
import { type Metrics, createMetrics, startMetricsServer } from "../metrics/index.ts";
import { type BackendResult, type GPTConfig, initBackend, modelPresets, paramSpecs } from "../model/index.ts";
import { type P2PNode, createP2PNode } from "../p2p/index.ts";
import type { TensorSpec } from "../sparseloco/types.ts";
import { Store } from "../store/index.ts";
import { type TrainingEngine, createEngine, defaultEngineOptions, warmupCosine } from "../train/index.ts";
import { ChainView } from "./chain-view.ts";
import { ParticipantDirectory } from "./directory.ts";
import { startChainDiscovery } from "./discovery.ts";
import { RoleError } from "./errors.ts";
import { defaultRoleOptions, type RoleOptions } from "./options.ts";

export type Role = "peer" | "validator";

/** Everything a role needs, assembled in one place and closed in reverse order (Lodestar's node/nodejs.ts). */
export interface RunContext {
  readonly role: Role;
  readonly config: NodeConfig;
  readonly options: RoleOptions;
  readonly run: RunConfig;
  readonly runParams: RunParams;
  readonly deployment: Deployment;
  readonly identity: Identity;
  readonly address: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly metricsUrl: string | null;
  readonly provider: JsonRpcProvider;
  readonly client: TrainingRunClient;
  readonly clock: RoundClock;
  readonly directory: ParticipantDirectory;
  readonly chain: ChainView;
  readonly dataset: Dataset;
  readonly model: GPTConfig;
  readonly specs: TensorSpec[];
  readonly backend: BackendResult;
  readonly engine: TrainingEngine;
  readonly store: Store;
  readonly p2p: P2PNode;
  close(): Promise<void>;
}

export interface OpenContextDependencies {
  /** Password source for an encrypted keystore (the CLI prompts or reads a file). */
  password: () => Promise<string>;
  logger?: Logger;
}

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

    const run = parseRunConfig(config.runConfig);
    const deployment = readJsonFile(config.deployment, "deployment") as Deployment;
    if (typeof deployment?.address !== "string")
      throw new ConfigError("deployment", `${config.deployment} has no contract address`);

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
    const expected = runConfigHash(run);
    if (runParams.configHash.toLowerCase() !== expected.toLowerCase()) {
      throw new RoleError(
        "CONFIG_HASH_MISMATCH",
        `run config ${config.runConfig} hashes to ${expected} but the contract's configHash is ${runParams.configHash}`,
      );
    }
    const clock = new RoundClock(runParams, { provider });
    await clock.sync();

    if (!existsSync(join(config.datasetDir, "manifest.json"))) {
      log.info({ dir: config.datasetDir }, "preparing dataset");
      prepareDataset(config.datasetDir);
    }
    const dataset = loadDataset(config.datasetDir);
    if (run.dataset?.manifestHash && run.dataset.manifestHash !== dataset.manifestHash) {
      throw new RoleError(
        "DATASET_MISMATCH",
        `dataset ${config.datasetDir} has manifest ${dataset.manifestHash}, the run wants ${run.dataset.manifestHash}`,
      );
    }

    const model = modelPresets[run.model.preset];
    const specs = paramSpecs(model);
    const backend = await initBackend(config.backend, (msg) => log.info(msg));
    const { warmupSteps, totalSteps, minLrRatio: minRatio } = run.train;
    const lr = (peakLr: number) => warmupCosine({ peakLr, warmupSteps, totalSteps, minRatio });
    const engine = createEngine(
      {
        optimizer: run.train.optimizer,
        lr: lr(run.train.peakLr),
        weightDecay: run.train.weightDecay,
        muon: { ...defaultEngineOptions.muon, lr: lr(run.train.muonPeakLr), momentum: run.train.muonMomentum },
      },
      { config: model },
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

    const p2p = await createP2PNode(
      { runId: run.runId, listen: config.listen, bootstrap: config.bootstrap },
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
    log.info(
      { peerId: p2p.peerId.toString(), multiaddrs: p2p.multiaddrs.map(String), backend: backend.backend, metricsUrl },
      "node started",
    );

    return {
      role,
      config,
      options: opts,
      run,
      runParams,
      deployment,
      identity,
      address,
      logger: log,
      metrics,
      metricsUrl,
      provider,
      client,
      clock,
      directory,
      chain,
      dataset,
      model,
      specs,
      backend,
      engine,
      store,
      p2p,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

export function parseRunConfig(path: string): RunConfig {
  const res = runConfigSchema.safeParse(readJsonFile(path, "runConfig"));
  if (!res.success) throw ConfigError.fromZod(res.error, "runConfig");
  return res.data;
}

/** Reads a JSON file written by another process (multiaddrs.json), or undefined when absent. */
export function readJsonIfExists<T>(path: string): T | undefined {
  return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as T) : undefined;
}
