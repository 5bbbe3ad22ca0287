import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Wallet } from "ethers";
import {
  type AnvilInstance,
  type DeployParamsInput,
  type Deployment,
  TrainingRunClient,
  createProvider,
  deployTrainingRun,
  startAnvil,
} from "../chain/index.ts";
import { type RunConfig, type RunConfigInput, runConfigHash, runConfigSchema } from "../config/index.ts";
import { prepareDataset } from "../data/index.ts";
import { type NodeLaunch, type NodeProcess, spawnNode, stopNode, waitForMultiaddrs } from "./processes.ts";

export interface LocalNetworkOptions {
  /** Root of everything the network keeps (chain state, node data dirs, configs, logs). */
  dir: string;
  peers: number;
  validators: number;
  run: RunConfigInput;
  deploy: DeployParamsInput;
  backend: string;
  logLevel: string;
  /** Shared prepared dataset. */
  datasetDir: string;
  /** Folder of prepared datasets the nodes search by manifest hash (data stages); default: the node's. */
  datasetsRoot?: string;
  /** Anvil port (0 = any free one). */
  anvilPort: number;
  /** Seconds between anvil blocks: chain time then moves without transactions. */
  blockTime: number;
}

interface NetworkState {
  deployment: Deployment;
  run: RunConfig;
}

/**
 * A whole cotrain network on this machine: anvil on 127.0.0.1 (state dumped to the data dir, so a second
 * start resumes the same chain), the contract deployed once, and each validator and peer as a separate
 * `cotrain` process with its own key (anvil's funded dev accounts) and data dir. Used by `cotrain testnet`
 * (`npm start`) and by the end-to-end tests.
 */
export class LocalNetwork {
  readonly nodes = new Map<string, NodeProcess>();
  private bootstrap: string[] = [];

  private constructor(
    readonly opts: LocalNetworkOptions,
    readonly anvil: AnvilInstance,
    readonly deployment: Deployment,
    readonly run: RunConfig,
    readonly resumed: boolean,
  ) {}

  static async start(opts: LocalNetworkOptions): Promise<LocalNetwork> {
    const dir = resolve(opts.dir);
    mkdirSync(dir, { recursive: true });
    prepareDataset(opts.datasetDir);
    const stateFile = join(dir, "network.json");
    const saved = existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, "utf8")) as NetworkState) : undefined;
    const anvil = await startAnvil({
      port: opts.anvilPort,
      blockTime: opts.blockTime,
      accounts: 2 + opts.validators + opts.peers,
      extraArgs: ["--state", join(dir, "anvil-state.json")],
    });
    try {
      let state = saved;
      if (state) {
        const code = await createProvider(anvil.rpcUrl).getCode(state.deployment.address);
        if (code === "0x") state = undefined; // chain state was lost: deploy a fresh run
      }
      if (!state) {
        const run = runConfigSchema.parse(opts.run);
        const provider = createProvider(anvil.rpcUrl);
        const deployer = new Wallet(anvil.accounts[0], provider);
        const deployment = await deployTrainingRun(deployer, { ...opts.deploy, configHash: runConfigHash(run) });
        provider.destroy();
        state = { deployment, run };
        writeFileSync(
          stateFile,
          JSON.stringify(state, (_, v) => (typeof v === "bigint" ? v.toString() : v), 2),
        );
      }
      writeFileSync(join(dir, "run.json"), JSON.stringify(state.run, null, 2));
      writeFileSync(join(dir, "deployment.json"), JSON.stringify(state.deployment, null, 2));
      return new LocalNetwork(
        { ...opts, dir },
        anvil,
        state.deployment,
        state.run,
        saved !== undefined && state === saved,
      );
    } catch (err) {
      await anvil.stop();
      throw err;
    }
  }

  /** Names: validator-0…, peer-0…; keys: anvil account 1+i for validators, 1+validators+i for peers. */
  keyIndex(role: "peer" | "validator", i: number): number {
    return role === "validator" ? 1 + i : 1 + this.opts.validators + i;
  }

  /** Multiaddrs of the first node started (the bootstrap node every later node dials). */
  get bootstrapAddrs(): string[] {
    return [...this.bootstrap];
  }

  nodeDir(name: string): string {
    return join(this.opts.dir, name);
  }

  /**
   * Writes the node's config file and key file, then spawns it (with `launch`'s entry point when given);
   * the first node started is the bootstrap node.
   */
  async startNode(
    role: "peer" | "validator",
    i: number,
    extra: Record<string, unknown> = {},
    launch: NodeLaunch = {},
  ): Promise<NodeProcess> {
    const name = `${role}-${i}`;
    const dataDir = this.nodeDir(name);
    mkdirSync(dataDir, { recursive: true });
    const keyFile = join(dataDir, "key.hex");
    writeFileSync(keyFile, `${this.anvil.accounts[this.keyIndex(role, i)]}\n`, { mode: 0o600 });
    const configFile = join(dataDir, "config.json");
    const config = {
      dataDir,
      key: keyFile,
      rpc: this.anvil.rpcUrl,
      deployment: join(this.opts.dir, "deployment.json"),
      runConfig: join(this.opts.dir, "run.json"),
      datasetDir: this.opts.datasetDir,
      ...(this.opts.datasetsRoot ? { datasetsRoot: this.opts.datasetsRoot } : {}),
      listen: ["/ip4/127.0.0.1/tcp/0"],
      bootstrap: this.bootstrap,
      backend: this.opts.backend,
      metricsPort: 0,
      logLevel: this.opts.logLevel,
      ...extra,
    };
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    const node = spawnNode(name, role, configFile, dataDir, launch);
    this.nodes.set(name, node);
    const addrs = await waitForMultiaddrs(node);
    if (this.bootstrap.length === 0) this.bootstrap = addrs;
    return node;
  }

  /** Starts every validator, then every peer. */
  async startAll(): Promise<void> {
    for (let i = 0; i < this.opts.validators; i++) await this.startNode("validator", i);
    await Promise.all(Array.from({ length: this.opts.peers }, (_, i) => this.startNode("peer", i)));
  }

  /** A read-only client of the run's contract (plus the provider to destroy). */
  client(): { client: TrainingRunClient; close(): void } {
    const provider = createProvider(this.anvil.rpcUrl);
    return {
      client: new TrainingRunClient({ address: this.deployment.address }, { runner: provider }),
      close: () => provider.destroy(),
    };
  }

  /** Stops every node (SIGTERM, then SIGKILL), then anvil (which dumps its state). */
  async stop(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => stopNode(n)));
    await this.anvil.stop();
  }
}
