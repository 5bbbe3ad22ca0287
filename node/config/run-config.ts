import { z } from "zod";
import { hash32To0x, sha256 } from "../hash/index.ts";
import { ConfigError } from "./errors.ts";
import { readJsonFile } from "./node-config.ts";
import { modelPresets } from "../model/options.ts";
import { type LrSchedule, warmupCosine } from "../train/schedules.ts";
import { innerOptimizers } from "../train/options.ts";

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, "64 lowercase hex characters");
/** The most data stages one run config may list (a bound on what a node parses and schedules). */
export const MAX_STAGES = 64;

/**
 * A stage's inner lr over global inner steps (node/train/schedules.ts): keep the previous curve, re-warm +
 * re-decay counted from the stage start (Ibrahim et al. 2024), or the infinite schedule (Singh et al. 2025).
 */
const stageScheduleSchema = z.discriminatedUnion("kind", [
  /** Keep the previous stage's curve (the first stage: the `train` warmup + cosine). */
  z.object({ kind: z.literal("continue") }).strict(),
  z
    .object({
      kind: z.literal("rewarm"),
      peakLr: z.number().positive().max(1),
      /** Steps (from the stage's first inner step) of the linear re-warm. */
      warmupSteps: z.number().int().min(0),
      /** Steps (from the stage start) at which the re-decay reaches its floor. */
      totalSteps: z.number().int().min(1),
      minLrRatio: z.number().min(0).max(1),
    })
    .strict(),
  z
    .object({
      kind: z.literal("infinite"),
      peakLr: z.number().positive().max(1),
      warmupSteps: z.number().int().min(0),
      /** Cosine from the peak down to constantRatio × peak. */
      cooldownSteps: z.number().int().min(0),
      constantRatio: z.number().min(0).max(1),
      /** Round at which the final linear anneal begins; absent: the constant phase goes on. */
      annealStartRound: z.number().int().min(0).optional(),
      annealSteps: z.number().int().min(0),
      minLrRatio: z.number().min(0).max(1),
    })
    .strict(),
]);

const dataStageSchema = z
  .object({
    /** sha256 of the stage's prepared manifest.json (node/data/catalog.ts finds it under the datasets root). */
    dataset: hex64,
    /** First round of the stage; the first stage starts at 0, each later one strictly after the previous. */
    startRound: z.number().int().min(0),
    schedule: stageScheduleSchema,
    /** Fraction of every batch drawn from earlier stages' datasets (Ibrahim et al. 2024: 5 %). */
    replay: z.number().min(0).max(1),
  })
  .strict();

/**
 * The run's shared parameters: everything every participant must agree on to produce bit-identical
 * models. Its canonical JSON is hashed (sha256) into the contract's configHash at deployment, so a node
 * refuses to join a run whose on-chain hash differs from the config it was given.
 */
export const runConfigSchema = z
  .object({
    /** Names the run: topic names, sample assignment seeds. */
    runId: z.string().min(1).max(64),
    model: z
      .object({
        /** Architecture preset (node/model/options.ts). */
        preset: z
          .enum(Object.keys(modelPresets) as [keyof typeof modelPresets, ...(keyof typeof modelPresets)[]])
          .default("nano"),
        /** Seed of θ_0; every node initialises the same parameters from it. */
        seed: z.union([z.string(), z.number().int()]).default(1),
      })
      .strict()
      .default({}),
    train: z
      .object({
        /**
         * H: the most inner optimizer steps a peer takes per round (Covenant-72B: 30). A peer trains until
         * its time budget ends the round (docs/roles.md "Time budget") or it reaches H; H is also the lr
         * schedule's steps per round (node/train `globalInnerStep`).
         */
        innerSteps: z.number().int().min(1).max(10_000).default(8),
        /** The fewest inner steps worth publishing: a peer whose time budget cannot reach them skips the round. */
        minInnerSteps: z.number().int().min(1).max(10_000).default(1),
        /**
         * Inner optimizer: "adamw", or "muon" (MuLoCo: Muon for the hidden matrices, AdamW with `peakLr` for
         * embeddings, head, norms and biases; docs/learning.md).
         */
        optimizer: z.enum(innerOptimizers).default("adamw"),
        /** Muon's peak lr (Muon's default 0.02), on the same warmup + cosine as `peakLr`. */
        muonPeakLr: z.number().positive().max(1).default(0.02),
        /** Muon's momentum β (Muon: 0.95). */
        muonMomentum: z.number().min(0).max(1).default(0.95),
        /** Sequences per inner step. */
        batchSize: z.number().int().min(1).max(4096).default(8),
        /** Inner lr: linear warmup + cosine decay over the global inner step (round*H + i). */
        peakLr: z.number().positive().max(1).default(3e-3),
        warmupSteps: z.number().int().min(0).default(20),
        totalSteps: z.number().int().min(1).default(20_000),
        minLrRatio: z.number().min(0).max(1).default(0.1),
        weightDecay: z.number().min(0).max(1).default(0.1),
      })
      .strict()
      .refine((t) => t.minInnerSteps <= t.innerSteps, {
        path: ["minInnerSteps"],
        message: "must not exceed train.innerSteps (the most inner steps per round)",
      })
      .default({}),
    sparseloco: z
      .object({
        /** Kept values per chunk (k = 64 of 4096 in Covenant-72B). */
        topk: z.number().int().min(2).max(4096).default(64),
        /** Error-feedback decay β. */
        beta: z.number().min(0).max(1).default(0.95),
        /** Chunk edge per dimension (64 → 64×64 blocks). */
        targetChunk: z.number().int().min(1).max(64).default(64),
        /** Outer learning rate α: θ ← θ − α·mean. */
        alpha: z.number().positive().max(10).default(1),
        /**
         * EF warm-up: rounds 0 … denseRounds−1 send every value of every chunk (2-bit) before top-k
         * applies (docs/learning.md "H = 30"). Optional with no default, so a config without it hashes as
         * before; payloads of those rounds are ~4096/topk times larger.
         */
        denseRounds: z.number().int().min(0).max(1000).optional(),
      })
      .strict()
      .default({}),
    dataset: z
      .object({
        /** sha256 of the prepared dataset's manifest.json; when set, nodes refuse another dataset. */
        manifestHash: z
          .string()
          .regex(/^[0-9a-f]{64}$/, "64 lowercase hex characters")
          .optional(),
      })
      .strict()
      .default({}),
    /**
     * Data stages for continual pre-training (docs/stages.md). Optional with no default: a config without
     * it is one stage on `dataset.manifestHash` with the `train` lr curve, and hashes exactly as before.
     */
    data: z
      .object({ stages: z.array(dataStageSchema).min(1).max(MAX_STAGES) })
      .strict()
      .superRefine((d, ctx) => {
        if (d.stages.length > 0 && d.stages[0].startRound !== 0)
          ctx.addIssue({
            code: "custom",
            path: ["stages", 0, "startRound"],
            message: "the first stage must start at round 0",
          });
        for (let i = 1; i < d.stages.length; i++) {
          if (d.stages[i].startRound <= d.stages[i - 1].startRound)
            ctx.addIssue({ code: "custom", path: ["stages", i, "startRound"], message: "stages out of order" });
        }
      })
      .optional(),
    validator: z
      .object({
        /** Held-out sequences per evaluation. */
        heldoutSamples: z.number().int().min(1).default(16),
        /** Sequences from the peer's own assignment per evaluation. */
        ownSamples: z.number().int().min(1).default(16),
        /** Evaluation step size as a fraction of α (Templar: 0.2 at 72B; small models show the signal at 1). */
        evalLrFactor: z.number().positive().max(10).default(1),
        /** Index overlap at or above which an update counts as a copy of an earlier one. */
        copyThreshold: z.number().min(0).max(1).default(0.4),
        /** Publish a checkpoint of θ_{r+1} every K finalized rounds. */
        checkpointEvery: z.number().int().min(1).default(2),
      })
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((run, ctx) => {
    const stages = run.data?.stages;
    if (!stages || stages.length === 0) return;
    const want = run.dataset.manifestHash;
    if (want !== undefined && stages[0].dataset !== want)
      ctx.addIssue({
        code: "custom",
        path: ["data", "stages", 0, "dataset"],
        message: `differs from dataset.manifestHash ${want}`,
      });
    stages.forEach((st, i) => {
      const s = st.schedule;
      if (s.kind === "rewarm" && s.totalSteps < s.warmupSteps)
        ctx.addIssue({
          code: "custom",
          path: ["data", "stages", i, "schedule", "totalSteps"],
          message: "must be at least warmupSteps",
        });
      if (s.kind !== "infinite" || s.annealStartRound === undefined) return;
      const constStart = st.startRound * run.train.innerSteps + s.warmupSteps + s.cooldownSteps;
      if (s.annealStartRound * run.train.innerSteps < constStart)
        ctx.addIssue({
          code: "custom",
          path: ["data", "stages", i, "schedule", "annealStartRound"],
          message: "the anneal must start after the warmup and cooldown (round × train.innerSteps ≥ their end)",
        });
    });
  });

export type RunConfig = z.infer<typeof runConfigSchema>;
export type RunConfigInput = z.input<typeof runConfigSchema>;

/** Canonical JSON: keys sorted at every level, no whitespace; what the config hash covers. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** 0x sha256 of the canonical JSON of the fully-defaulted run config. */
export function runConfigHash(config: RunConfig): string {
  return hash32To0x(sha256(canonicalJson(config)));
}

/** Reads and validates a run config JSON file; a bad field is a ConfigError named "runConfig.<path>". */
export function readRunConfig(path: string): RunConfig {
  const res = runConfigSchema.safeParse(readJsonFile(path, "runConfig"));
  if (!res.success) throw ConfigError.fromZod(res.error, "runConfig");
  return res.data;
}

/**
 * The run's inner lr over the global inner step (node/train `globalInnerStep`: round·H + step), the one
 * schedule every node builds from the run config; a staged schedule (data stages with lr re-warming)
 * replaces it here.
 */
export function innerLrSchedule(train: RunConfig["train"]): LrSchedule {
  return warmupCosine({
    peakLr: train.peakLr,
    warmupSteps: train.warmupSteps,
    totalSteps: train.totalSteps,
    minRatio: train.minLrRatio,
  });
}
