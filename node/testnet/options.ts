import type { DeployParamsInput } from "../chain/index.ts";
import type { RunConfigInput } from "../config/index.ts";
import { DEFAULT_DATASET_DIR } from "../data/index.ts";
import type { ModelPreset } from "../model/index.ts";

/** What `cotrain testnet` (`npm start`) runs. */
export interface TestnetOptions {
  /** Root of the network's state (chain, node dirs, logs); a second start resumes from it. */
  dataDir: string;
  datasetDir: string;
  peers: number;
  validators: number;
  preset: ModelPreset;
  /** Round length R; the submission and scoring windows are derived from it (see testnetTiming). */
  roundSeconds: number;
  /** The most inner steps per round; a peer's time budget usually ends the round first. */
  innerSteps: number;
  batchSize: number;
  backend: string;
  /** Exit after this many rounds finalize (counted from this start); 0 = run until Ctrl-C. */
  rounds: number;
  /** Preferred ports; when taken, any free port is used instead (0 = any free port). */
  anvilPort: number;
  explorerPort: number;
  /** Log level of the node processes (their logs go to <dataDir>/<name>/<name>.log). */
  logLevel: string;
  /** Live terminal table (TTY) or one line per finalized round (pipes, CI). */
  interactive: boolean;
  /**
   * Round at which a second data stage starts (the ethers-ts corpus, re-warm + re-decay, 5 % replay of
   * Brown; docs/stages.md); 0 = one stage on Brown. Part of the deployed run config.
   */
  stageAt: number;
}

/**
 * Defaults measured on a 2-vCPU box with 4 node processes sharing it (docs/testnet.md): each peer trains
 * the whole 30 s round (time budget; a micro step of 4 × 128 tokens takes 1-3 s there, so H = 64 is a
 * ceiling it does not reach) while the validator scores the previous round.
 */
export const defaultTestnetOptions: TestnetOptions = {
  dataDir: ".data/testnet",
  datasetDir: DEFAULT_DATASET_DIR,
  peers: 3,
  validators: 1,
  preset: "micro",
  roundSeconds: 30,
  innerSteps: 64,
  batchSize: 4,
  backend: "auto",
  rounds: 0,
  anvilPort: 8545,
  explorerPort: 8080,
  logLevel: "info",
  interactive: false,
  stageAt: 0,
};

/** The manifest hashes of the testnet's datasets (needed when it runs with two stages). */
export interface TestnetDatasets {
  brown: string;
  second: string;
}

/** The run config every node of the local testnet shares (hashed into the contract's configHash). */
export function testnetRunConfig(o: TestnetOptions, datasets?: TestnetDatasets): RunConfigInput {
  const run: RunConfigInput = {
    runId: `testnet-${o.preset}`,
    model: { preset: o.preset },
    train: { innerSteps: o.innerSteps, minInnerSteps: Math.min(2, o.innerSteps), batchSize: o.batchSize },
  };
  if (o.stageAt <= 0) return run;
  if (!datasets) throw new RangeError("a two-stage testnet needs both datasets' manifest hashes");
  const peakLr = 3e-3; // the run config's default peak: the second stage re-warms to it
  return {
    ...run,
    dataset: { manifestHash: datasets.brown },
    data: {
      stages: [
        { dataset: datasets.brown, startRound: 0, schedule: { kind: "continue" }, replay: 0 },
        {
          dataset: datasets.second,
          startRound: o.stageAt,
          schedule: {
            kind: "rewarm",
            peakLr,
            warmupSteps: o.innerSteps,
            totalSteps: 200 * o.innerSteps,
            minLrRatio: 0.1,
          },
          replay: 0.05,
        },
      ],
    },
  };
}

/**
 * Round timing from R: peers publish up to 20 % of R into the next round (DESIGN "A round, end to
 * end": the deadline is genesis + (r+1)·R + submissionSeconds) and validators get three quarters of a round
 * to gather, score and submit (with half a round, a 12 s nano round missed its window on a loaded 2-core box).
 */
export function testnetDeployParams(o: TestnetOptions): DeployParamsInput {
  const R = o.roundSeconds;
  return {
    roundSeconds: R,
    submissionSeconds: Math.max(1, Math.round(R * 0.2)),
    scoringSeconds: Math.max(2, Math.round(R * 0.75)),
    genesisDelaySeconds: 8,
    unstakeDelay: Math.max(60, 3 * R), // the contract requires at least 3 rounds
    gatherSize: 16,
  };
}
