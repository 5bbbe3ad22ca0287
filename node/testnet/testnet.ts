import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { createServer } from "node:net";
import { prepareDataset } from "../data/index.ts";
import { type ExplorerHandle, startExplorer } from "../explorer/index.ts";
import { type StatusDisplay, createLineDisplay, createTtyDisplay } from "./display.ts";
import { TestnetError } from "./errors.ts";
import { LocalNetwork } from "./network.ts";
import { NetworkObserver } from "./observer.ts";
import { type TestnetOptions, defaultTestnetOptions, testnetDeployParams, testnetRunConfig } from "./options.ts";
import { type TestnetSummary, buildSummary } from "./summary.ts";
import { writeJoinFile } from "./join-file.ts";

export interface TestnetDependencies {
  /** Progress and status lines (the summary JSON is returned, for the caller to print last). */
  print: (line: string) => void;
  /** Dataset preparation progress (a cli-progress bar in the CLI). */
  onDatasetProgress?: (done: number, total: number) => void;
  /** Aborting stops the network (the CLI wires SIGINT/SIGTERM to it). */
  signal: AbortSignal;
}

export interface TestnetResult {
  /** null when stopped by the signal (Ctrl-C): in a terminal the whole process group, anvil included, got it too. */
  summary: TestnetSummary | null;
  network: LocalNetwork;
}

/** Resolves with `port` if it is free on 127.0.0.1, else 0 (any free port): a busy 8545 is no reason to fail. */
export function freePortOr(port: number): Promise<number> {
  if (port === 0) return Promise.resolve(0);
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(0));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(port)));
  });
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

/**
 * `cotrain testnet`: a whole network on this machine. Prepares the dataset, starts (or resumes) anvil
 * and the contract through LocalNetwork, spawns the validator and the peers, serves the explorer, and
 * shows the run until `rounds` rounds finalized (then resolves with the summary) or the signal aborts.
 * Every child is stopped before this returns or throws.
 */
export async function runTestnet(input: Partial<TestnetOptions>, deps: TestnetDependencies): Promise<TestnetResult> {
  const o: TestnetOptions = { ...defaultTestnetOptions, ...input };
  if (!existsSync(join(o.datasetDir, "manifest.json"))) deps.print(`preparing the dataset in ${o.datasetDir}`);
  const brown = prepareDataset(o.datasetDir, deps.onDatasetProgress ? { onProgress: deps.onDatasetProgress } : {});
  // A second stage's corpus goes next to Brown, in the datasets root the nodes search by manifest hash.
  const datasetsRoot = dirname(o.datasetDir);
  let datasets: { brown: string; second: string } | undefined;
  if (o.stageAt > 0) {
    deps.print(`preparing the second stage's dataset (ethers-ts) in ${datasetsRoot}`);
    const second = prepareDataset(join(datasetsRoot, "ethers-ts"), { corpus: "ethers-ts" });
    datasets = { brown: brown.manifestHash, second: second.manifestHash };
  }

  const net = await LocalNetwork.start({
    dir: o.dataDir,
    peers: o.peers,
    validators: o.validators,
    run: testnetRunConfig(o, datasets),
    datasetsRoot,
    deploy: testnetDeployParams(o),
    backend: o.backend,
    logLevel: o.logLevel,
    datasetDir: o.datasetDir,
    anvilPort: await freePortOr(o.anvilPort),
    blockTime: 1,
  });
  let explorer: ExplorerHandle | undefined;
  let display: StatusDisplay | undefined;
  const { client, close } = net.client();
  try {
    deps.print(
      `${net.resumed ? "resumed" : "deployed"} run ${net.run.runId} (${net.run.model.preset}) at ${net.deployment.address} on ${net.anvil.rpcUrl}; data in ${net.opts.dir}`,
    );
    if (net.resumed && net.run.model.preset !== o.preset) {
      deps.print(
        `note: this data dir holds a ${net.run.model.preset} run; delete ${net.opts.dir} to start a ${o.preset} one`,
      );
    }
    explorer = await startExplorer({
      rpcUrl: net.anvil.rpcUrl,
      contract: net.deployment.address,
      fromBlock: net.deployment.block,
      port: await freePortOr(o.explorerPort),
      host: "127.0.0.1",
      dataDir: join(net.opts.dir, "explorer"),
      pollMs: 1000,
    });
    deps.print(`explorer: ${explorer.url}`);

    deps.print(
      `starting ${o.validators} validator(s) and ${o.peers} peer(s); logs in ${net.opts.dir}/<node>/<node>.log`,
    );
    await net.startAll();
    writeJoinFile(net, join(net.opts.dir, "join.json"));
    const observer = new NetworkObserver(net, client);
    await observer.begin();
    deps.print(
      `round ${observer.currentRound}; ${o.rounds > 0 ? `stopping after ${o.rounds} finalized round(s)` : "Ctrl-C stops every process"}`,
    );
    display = o.interactive ? createTtyDisplay() : createLineDisplay(deps.print);

    let lastProgress = Date.now();
    let waiting: Array<{ round: number; since: number }> = [];
    const roundMs = net.deployment.params.roundSeconds * 1000;
    const stallMs = Math.max(180_000, net.deployment.params.roundSeconds * 6_000);
    while (!deps.signal.aborted) {
      const fresh = await observer.poll().catch(() => [] as number[]);
      if (fresh.length) lastProgress = Date.now();
      for (const r of fresh) waiting.push({ round: r, since: Date.now() });
      // The validator logs a round's held-out loss just after finalizing it: report a round once its
      // line is there (or a round length later, without it).
      const ready = waiting
        .filter((w) => observer.heldOut.has(w.round) || Date.now() - w.since > roundMs)
        .map((w) => w.round);
      waiting = waiting.filter((w) => !ready.includes(w.round));
      display.update(observer.snapshot(), ready);
      const exited = observer.exitedNodes();
      // After Ctrl-C in a terminal every child got SIGINT too and exits on its own: that is no failure.
      if (exited.length && !deps.signal.aborted) {
        const n = exited[0];
        throw new TestnetError(
          "NODE_EXITED",
          `${n.name} exited with code ${n.exited}; see ${net.nodes.get(n.name)?.logFile}`,
        );
      }
      if (o.rounds > 0 && observer.finalizedSinceStart >= o.rounds) break;
      if (Date.now() - lastProgress > stallMs) {
        throw new TestnetError(
          "NO_PROGRESS",
          `no round finalized for ${Math.round(stallMs / 1000)} s; see the validator's log in ${net.opts.dir}/validator-0`,
        );
      }
      await sleep(1000, deps.signal);
    }
    if (deps.signal.aborted) return { summary: null, network: net };
    const { summary, disagreeing } = await buildSummary(observer, client, explorer.url, Math.min(30_000, roundMs));
    display.update(
      observer.snapshot(),
      waiting.map((w) => w.round),
    );
    display.stop();
    display = undefined;
    if (disagreeing.length)
      deps.print(
        `model hash of round ${observer.lastFinalized} differs from the chain's on: ${disagreeing.join(", ")}`,
      );
    return { summary, network: net };
  } finally {
    display?.stop();
    close();
    await explorer?.close().catch(() => {});
    await net.stop();
  }
}
