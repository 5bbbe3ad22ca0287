import type { Logger } from "pino";
import type { ConfigTimelineEntry } from "../chain/index.ts";
import {
  type RunConfig,
  type RunStage,
  matchTimeline,
  runConfigHash,
  runLrSchedule,
  stageAt,
} from "../config/index.ts";
import type { Dataset } from "../data/index.ts";
import type { LrSchedule } from "../train/index.ts";
import { RoleError } from "./errors.ts";

/** What a round trains and scores on: its stage, that stage's dataset, and what replay draws from. */
export interface RoundData {
  readonly round: number;
  readonly stage: RunStage;
  /** The stage's dataset: the round's assigned samples and the held-out set that feeds the score. */
  readonly dataset: Dataset;
  /** Earlier stages' datasets (stage order, the current one left out) and the fraction of every batch. */
  readonly replay: { readonly dataset: readonly Dataset[]; readonly fraction: number } | undefined;
  /** The datasets of every stage in effect up to the round, in stage order (per-stage held-out loss). */
  readonly stageDatasets: readonly Dataset[];
}

/** The round's data, the one question the trainer and the scorer ask. */
export interface StageSource {
  at(round: number): Promise<RoundData>;
}

export interface StagePlanOptions {
  /** The run config file: re-read every round, so a config appended on chain is picked up while running. */
  runConfig: string;
}

export interface StagePlanDependencies {
  /** The contract's config timeline, entry 0 first (TrainingRunClient.configTimeline). */
  timeline(): Promise<ConfigTimelineEntry[]>;
  readRunConfig(path: string): RunConfig;
  /** The prepared dataset with this manifest hash (undefined: a legacy run's one dataset); throws when absent. */
  dataset(manifestHash: string | undefined): Dataset;
  logger: Pick<Logger, "info" | "warn">;
}

interface Entry {
  fromRound: number;
  configHash: string;
  /** The file truncated to the stages this entry committed to. */
  run: RunConfig;
}

/**
 * Which config, stage and data rule each round (docs/stages.md). The contract keeps an append-only
 * timeline of config hashes, each in force from its round; the node's run config file is the newest
 * config it knows, and every timeline entry must be the hash of a prefix of its stage list (the file
 * truncated to n stages). Round r runs on the config of the last entry with fromRound ≤ r, and on that
 * config's stage in effect at r. Stages in the file but not yet on chain are ignored until they are.
 * Each round re-reads the file and the timeline: an entry the file does not cover is a warning until it
 * takes effect, then a CONFIG_UNKNOWN error that stops the node.
 */
export class StagePlan implements StageSource {
  private entries: Entry[] = [];
  private readonly schedules = new Map<string, LrSchedule>();
  private readonly warned = new Set<string>();

  constructor(
    private readonly opts: StagePlanOptions,
    private readonly deps: StagePlanDependencies,
  ) {}

  /** Re-reads the file and the timeline; throws when an entry in force at `round` is not covered. */
  async refresh(round: number): Promise<void> {
    const file = this.readFile();
    const timeline = await this.deps.timeline();
    const entries: Entry[] = [];
    for (const [k, { entry: e, run }] of matchTimeline(file, timeline).entries()) {
      const hash = e.configHash.toLowerCase();
      if (run) {
        entries.push({ fromRound: e.fromRound, configHash: hash, run });
        continue;
      }
      if (k === 0)
        throw new RoleError(
          "CONFIG_HASH_MISMATCH",
          `run config ${this.opts.runConfig} hashes to ${runConfigHash(file)}, and none of its stage prefixes is the contract's configHash ${hash}`,
        );
      const msg = `the contract's config for rounds from ${e.fromRound} is ${hash}, which run config ${this.opts.runConfig} does not cover: get the run's newest config (cotrain join <network file>, or from the operator) and restart`;
      if (e.fromRound <= round) throw new RoleError("CONFIG_UNKNOWN", msg);
      if (!this.warned.has(hash)) this.deps.logger.warn({ fromRound: e.fromRound, configHash: hash }, msg);
      this.warned.add(hash);
      break;
    }
    const added = entries.slice(this.entries.length);
    this.entries = entries;
    for (const e of added) {
      const stages = e.run.data?.stages.length ?? 1;
      this.deps.logger.info({ fromRound: e.fromRound, configHash: e.configHash, stages }, "run config in force");
      // Catch a missing dataset now, while the stage may still be a round away, not when it starts.
      for (const st of e.run.data?.stages ?? []) {
        try {
          this.dataset(st.dataset);
        } catch (err) {
          if (st.startRound <= round || e.fromRound <= round) throw err;
          this.deps.logger.warn({ stage: st, err: (err as Error).message }, "a coming stage's dataset is missing");
        }
      }
    }
  }

  /** The config in force at `round` (as of the last refresh). */
  configAt(round: number): RunConfig {
    return this.entryAt(round).run;
  }

  async at(round: number): Promise<RoundData> {
    await this.refresh(round);
    const run = this.configAt(round);
    const stage = stageAt(run, round);
    const dataset = this.dataset(stage.dataset);
    const earlier = (run.data?.stages ?? []).slice(0, stage.index);
    const stageDatasets = [...earlier.map((s) => this.dataset(s.dataset)), dataset];
    const seen = new Set([dataset.manifestHash]);
    const replaySets = stageDatasets.filter((d) => !seen.has(d.manifestHash) && seen.add(d.manifestHash));
    const replay =
      stage.replay > 0 && replaySets.length > 0 ? { dataset: replaySets, fraction: stage.replay } : undefined;
    return { round, stage, dataset, replay, stageDatasets };
  }

  /**
   * The inner lr over the global inner step for the engine: step s belongs to round ⌊s/H⌋ and takes the
   * curve of the config in force then (runLrSchedule), so an appended stage changes only later rounds.
   */
  lr(optimizer: "adamw" | "muon"): LrSchedule {
    return (step) => {
      const e = this.entryAt(Math.floor(step / e0H(this.entries)));
      const key = `${optimizer}/${e.configHash}`;
      let f = this.schedules.get(key);
      if (!f) {
        f = runLrSchedule(e.run, optimizer);
        this.schedules.set(key, f);
      }
      return f(step);
    };
  }

  private dataset(hash: string | undefined): Dataset {
    try {
      return this.deps.dataset(hash);
    } catch (err) {
      throw new RoleError(
        "DATASET_UNKNOWN",
        `a stage of the run trains on dataset ${hash}: ${(err as Error).message} (npm run prepare-data, or --datasets-root)`,
      );
    }
  }

  private entryAt(round: number): Entry {
    if (this.entries.length === 0) throw new Error("StagePlan: refresh() before use");
    let i = this.entries.length - 1;
    while (i > 0 && this.entries[i].fromRound > round) i--;
    return this.entries[i];
  }

  private readFile(): RunConfig {
    try {
      return this.deps.readRunConfig(this.opts.runConfig);
    } catch (err) {
      // A file being rewritten, or a bad edit: keep running on what the chain and the last good read agree on.
      if (this.entries.length === 0) throw err;
      this.deps.logger.warn({ err: (err as Error).message }, "run config unreadable; keeping the last good one");
      return this.entries[this.entries.length - 1].run;
    }
  }
}

/** H (train.innerSteps): the same in every entry, since each is a prefix of one file. */
function e0H(entries: readonly Entry[]): number {
  if (entries.length === 0) throw new Error("StagePlan: refresh() before use");
  return entries[0].run.train.innerSteps;
}
