import cliProgress from "cli-progress";
import type { Command } from "commander";
import { ChainError } from "../../chain/index.ts";
import { ExplorerError } from "../../explorer/index.ts";
import { modelPresets } from "../../model/index.ts";
import { type TestnetOptions, TestnetError, defaultTestnetOptions, runTestnet } from "../../testnet/index.ts";
import { CliError } from "../errors.ts";

interface TestnetFlags {
  dataDir: string;
  datasetDir: string;
  peers: string;
  validators: string;
  preset: string;
  roundSeconds?: string;
  innerSteps?: string;
  batchSize?: string;
  backend: string;
  rounds: string;
  anvilPort: string;
  explorerPort: string;
  logLevel: string;
  stageAt?: string;
}

const PRESETS = Object.keys(modelPresets);

const int = (flag: string, v: string | undefined, min: number): number | undefined => {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min)
    throw new CliError(`invalid configuration: ${flag}: expected an integer >= ${min}, got "${v}"`);
  return Number(v);
};

/** nano trains ~8x faster than micro: shorter rounds keep tests and quick looks short. */
const presetTiming = (preset: TestnetOptions["preset"]) =>
  preset === "nano" ? { roundSeconds: 12, innerSteps: 32, batchSize: 8 } : {};

export function testnetOptionsFromFlags(f: TestnetFlags): Partial<TestnetOptions> {
  if (!PRESETS.includes(f.preset))
    throw new CliError(`invalid configuration: preset: expected one of ${PRESETS.join("|")}, got "${f.preset}"`);
  const preset = f.preset as TestnetOptions["preset"];
  const out: Partial<TestnetOptions> = {
    dataDir: f.dataDir,
    datasetDir: f.datasetDir,
    peers: int("peers", f.peers, 1),
    validators: int("validators", f.validators, 1),
    preset,
    backend: f.backend,
    rounds: int("rounds", f.rounds, 0),
    anvilPort: int("anvilPort", f.anvilPort, 0),
    explorerPort: int("explorerPort", f.explorerPort, 0),
    logLevel: f.logLevel,
    ...presetTiming(preset),
  };
  const roundSeconds = int("roundSeconds", f.roundSeconds, 4);
  const innerSteps = int("innerSteps", f.innerSteps, 1);
  const batchSize = int("batchSize", f.batchSize, 1);
  if (roundSeconds !== undefined) out.roundSeconds = roundSeconds;
  if (innerSteps !== undefined) out.innerSteps = innerSteps;
  if (batchSize !== undefined) out.batchSize = batchSize;
  const stageAt = int("stageAt", f.stageAt, 1);
  if (stageAt !== undefined) out.stageAt = stageAt;
  return out;
}

export function registerTestnet(program: Command): void {
  const d = defaultTestnetOptions;
  program
    .command("testnet")
    .description(
      "run a whole network on this machine: anvil, the contract, a validator and peers as separate processes, the explorer, a live status",
    )
    .option("--data-dir <dir>", "network state (chain, node dirs, logs); a second start resumes it", d.dataDir)
    .option("--dataset-dir <dir>", "prepared dataset (built with a progress bar if missing)", d.datasetDir)
    .option("--peers <n>", "number of peers", String(d.peers))
    .option(
      "--stage-at <round>",
      "run two data stages: Brown, then from this round the ethers-ts corpus (re-warm, 5 % replay; docs/stages.md)",
    )
    .option("--validators <n>", "number of validators", String(d.validators))
    .option("--preset <name>", `model preset: ${PRESETS.join("|")} (nano: 12 s rounds, for tests)`, d.preset)
    .option(
      "--round-seconds <s>",
      `round length R (default ${d.roundSeconds}; nano ${presetTiming("nano").roundSeconds})`,
    )
    .option(
      "--inner-steps <n>",
      `most inner steps H per round; the time budget usually stops sooner (default ${d.innerSteps}; nano ${presetTiming("nano").innerSteps})`,
    )
    .option(
      "--batch-size <n>",
      `sequences per inner step (default ${d.batchSize}; nano ${presetTiming("nano").batchSize})`,
    )
    .option("--backend <name>", "training engine of every node: auto|webgpu|tensorflow|wasm|cpu", d.backend)
    .option(
      "--rounds <n>",
      "exit 0 after n rounds finalize (counted from this start) and print a JSON summary; 0 = until Ctrl-C",
      "0",
    )
    .option("--anvil-port <port>", "chain RPC port (any free one if taken; 0 = any)", String(d.anvilPort))
    .option("--explorer-port <port>", "explorer HTTP port (any free one if taken; 0 = any)", String(d.explorerPort))
    .option("--log-level <level>", "log level of the node processes", d.logLevel)
    .action(async (flags: TestnetFlags) => {
      const options = testnetOptionsFromFlags(flags);
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      const bar = new cliProgress.SingleBar(
        { format: "dataset [{bar}] {value}/{total} files", stream: process.stderr },
        cliProgress.Presets.shades_classic,
      );
      let barStarted = false;
      try {
        const { summary } = await runTestnet(
          { ...options, interactive: process.stdout.isTTY === true },
          {
            print: (line) => console.log(line),
            signal: stop.signal,
            onDatasetProgress: (done, total) => {
              if (!barStarted) bar.start(total, 0);
              barStarted = true;
              bar.update(done);
              if (done === total) bar.stop();
            },
          },
        );
        if (!summary) {
          console.log("stopped; state kept for the next start");
          return;
        }
        console.log(JSON.stringify(summary));
      } catch (err) {
        if (stop.signal.aborted) {
          // Ctrl-C while starting: the children got it too and exited; LocalNetwork.stop() already ran.
          console.log(
            `stopped during start-up (${(err as Error).message.split("\n")[0]}); state kept for the next start`,
          );
          return;
        }
        if (err instanceof TestnetError || err instanceof ChainError || err instanceof ExplorerError)
          throw new CliError(err.message);
        throw err;
      } finally {
        if (barStarted) bar.stop();
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });
}
