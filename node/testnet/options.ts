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
}

/**
 * Defaults measured on a 2-vCPU box with 4 node processes sharing it (docs/testnet.md): a micro round
 * trains 8 steps × 4 sequences × 128 tokens per peer in ~8-12 s while the validator scores the previous
 * round, so 30 s rounds leave headroom and the first round finalizes about a minute after start.
 */
export const defaultTestnetOptions: TestnetOptions = {
  dataDir: ".data/testnet",
  datasetDir: DEFAULT_DATASET_DIR,
  peers: 3,
  validators: 1,
  preset: "micro",
  roundSeconds: 30,
  innerSteps: 8,
  batchSize: 4,
  backend: "auto",
  rounds: 0,
  anvilPort: 8545,
  explorerPort: 8080,
  logLevel: "info",
  interactive: false,
};

/** The run config every node of the local testnet shares (hashed into the contract's configHash). */
export function testnetRunConfig(o: TestnetOptions): RunConfigInput {
  return {
    runId: `testnet-${o.preset}`,
    model: { preset: o.preset },
    train: { innerSteps: o.innerSteps, batchSize: o.batchSize },
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
