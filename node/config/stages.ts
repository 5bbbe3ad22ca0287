import {
  type LrSchedule,
  infiniteSchedule,
  piecewiseSchedule,
  shiftSchedule,
  warmupCosine,
} from "../train/schedules.ts";
import { type RunConfig, innerLrSchedule, runConfigHash } from "./run-config.ts";

/** One data stage with every field resolved (a config without `data.stages` has one, from `dataset`). */
export interface RunStage {
  /** Position in the config's stage list. */
  readonly index: number;
  /** Manifest sha256 of the stage's dataset; undefined only for a legacy config without a manifest hash. */
  readonly dataset: string | undefined;
  readonly startRound: number;
  readonly schedule: NonNullable<RunConfig["data"]>["stages"][number]["schedule"];
  /** Fraction of every batch drawn from earlier stages' datasets. */
  readonly replay: number;
}

/** The run's data stages in order; a config without `data.stages` is one stage (its `dataset`, the `train` curve). */
export function runStages(run: RunConfig): RunStage[] {
  const stages = run.data?.stages;
  if (!stages)
    return [{ index: 0, dataset: run.dataset.manifestHash, startRound: 0, schedule: { kind: "continue" }, replay: 0 }];
  return stages.map((s, index) => ({ index, ...s }));
}

/** The stage in effect at `round`: the last whose startRound is at or before it. */
export function stageAt(run: RunConfig, round: number): RunStage {
  if (!(Number.isInteger(round) && round >= 0))
    throw new RangeError(`round must be a non-negative integer, got ${round}`);
  const stages = runStages(run);
  let i = stages.length - 1;
  while (stages[i].startRound > round) i--;
  return stages[i];
}

/**
 * The inner lr over the global inner step (round·H + i, node/train `globalInnerStep`) from the stages:
 * stage k rules from its startRound·H; "continue" keeps the previous curve, "rewarm" a warmup + cosine and
 * "infinite" the infinite schedule, both counted from the stage start. `optimizer: "muon"` scales every
 * peak by train.muonPeakLr / train.peakLr (Muon's matrices on the same curve). A config without stages is
 * exactly `innerLrSchedule(run.train)`, so existing runs train bit-identically.
 */
export function runLrSchedule(run: RunConfig, optimizer: "adamw" | "muon" = "adamw"): LrSchedule {
  const t = run.train;
  const base = innerLrSchedule(optimizer === "muon" ? { ...t, peakLr: t.muonPeakLr } : t);
  if (!run.data?.stages) return base;
  const scale = optimizer === "muon" ? t.muonPeakLr / t.peakLr : 1;
  const H = t.innerSteps;
  const segments: Array<{ startStep: number; lr: LrSchedule }> = [];
  let previous = base;
  for (const st of runStages(run)) {
    const start = st.startRound * H;
    const s = st.schedule;
    const lr =
      s.kind === "continue"
        ? previous
        : s.kind === "rewarm"
          ? shiftSchedule(
              warmupCosine({
                peakLr: s.peakLr * scale,
                warmupSteps: s.warmupSteps,
                totalSteps: s.totalSteps,
                minRatio: s.minLrRatio,
              }),
              start,
            )
          : shiftSchedule(
              infiniteSchedule({
                peakLr: s.peakLr * scale,
                warmupSteps: s.warmupSteps,
                cooldownSteps: s.cooldownSteps,
                constantRatio: s.constantRatio,
                annealStart:
                  s.annealStartRound === undefined ? Number.POSITIVE_INFINITY : s.annealStartRound * H - start,
                annealSteps: s.annealSteps,
                minRatio: s.minLrRatio,
              }),
              start,
            );
    segments.push({ startStep: start, lr });
    previous = lr;
  }
  return piecewiseSchedule(segments);
}

/** `run` with only its first `n` stages (the config an earlier timeline entry committed to). */
export function truncateStages(run: RunConfig, n: number): RunConfig {
  const stages = run.data?.stages;
  const count = stages?.length ?? 1;
  if (!(Number.isInteger(n) && n >= 1 && n <= count)) throw new RangeError(`cannot truncate ${count} stages to ${n}`);
  if (!stages) return run;
  return { ...run, data: { ...run.data, stages: stages.slice(0, n) } };
}

/**
 * The config hashes a timeline entry may carry for this file, by stage count: index n−1 lists the hashes
 * of the config truncated to n stages. A one-stage prefix that says no more than a config without stages
 * (the run's dataset, "continue", no replay) also matches that config without `data`, so a run deployed
 * before stages existed can append its first new stage.
 */
export function prefixHashes(run: RunConfig): string[][] {
  const count = run.data?.stages.length ?? 1;
  const out: string[][] = [];
  for (let n = 1; n <= count; n++) {
    const hashes = [runConfigHash(truncateStages(run, n))];
    if (n === 1 && run.data) {
      const s0 = run.data.stages[0];
      const legacy = { ...run, data: undefined };
      if (s0.schedule.kind === "continue" && s0.replay === 0 && s0.dataset === run.dataset.manifestHash)
        hashes.push(runConfigHash(legacy));
    }
    out.push(hashes);
  }
  return out;
}

/** A config timeline entry as the contract holds it (node/chain `ConfigTimelineEntry`). */
export interface TimelineEntryLike {
  readonly fromRound: number;
  readonly configHash: string;
}

/** A timeline entry as this file reads it: the config it commits to, or none (`stages` 0) when it does not cover it. */
export interface TimelineMatch<E extends TimelineEntryLike> {
  readonly entry: E;
  /** Stages of the file the entry commits to (0: no prefix of the file hashes to it). */
  readonly stages: number;
  /** The file truncated to those stages (or the stage-less config `prefixHashes` also accepts); null when uncovered. */
  readonly run: RunConfig | null;
}

/**
 * Each timeline entry matched to the prefix of `run`'s stages that hashes to it: the one reading of the
 * chain's config timeline that the node (StagePlan), the operator's `append-config` and the join/publish/
 * doctor checks share.
 */
export function matchTimeline<E extends TimelineEntryLike>(run: RunConfig, timeline: readonly E[]): TimelineMatch<E>[] {
  const known = new Map<string, { stages: number; run: RunConfig }>();
  prefixHashes(run).forEach((hashes, i) => {
    const truncated = truncateStages(run, i + 1);
    for (const [j, h] of hashes.entries())
      known.set(h, { stages: i + 1, run: j === 0 ? truncated : { ...run, data: undefined } });
  });
  return timeline.map((entry) => {
    const m = known.get(entry.configHash.toLowerCase());
    return { entry, stages: m?.stages ?? 0, run: m?.run ?? null };
  });
}

/**
 * The timeline entries `run` does not cover (none of its stage prefixes hashes to them), in order: what
 * `cotrain join` and `cotrain publish` refuse, since a node on this file would stop at such an entry.
 */
export function uncoveredEntries<E extends TimelineEntryLike>(run: RunConfig, timeline: readonly E[]): E[] {
  return matchTimeline(run, timeline)
    .filter((m) => m.stages === 0)
    .map((m) => m.entry);
}
