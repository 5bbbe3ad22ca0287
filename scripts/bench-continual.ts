/**
 * Continual pre-training benchmark: stage 1 on Brown, stage 2 on a second corpus (default ethers-ts, code),
 * five ways (scripts/learning/continual.ts) at equal tokens, K simulated SparseLoCo peers through the
 * network's own functions (scripts/learning/simulate.ts). docs/continual.md explains the table.
 *
 * Usage: npm run bench:continual -- [--quick] [--preset nano] [--peers 2] [--batch 20] [--seq-len 64] [--H 8]
 *   [--rounds1 12] [--rounds2 12] [--variants continue,rewarm,replay,infinite,scratch] [--second ethers-ts]
 *   [--lr 3e-3] [--warmup W] [--min-lr-ratio 0.1] [--rewarm-lr X] [--rewarm-warmup W] [--replay 0.05]
 *   [--cooldown C] [--constant-ratio 0.5] [--anneal A] [--heldout 128] [--out artifacts/bench-continual]
 *   [--merge a.json,b.json --name N]: the table and plot of variants run in separate processes (same flags, split
 *   --variants, different --name), e.g. to use more than one core.
 * stdout: one JSON line per evaluation, then one per variant; stderr: the table.
 * Files: <out>/<name>.json (everything), <name>.md (the table), <name>.svg (both held-out losses against tokens).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import {
  corpusByName,
  DEFAULT_DATASETS_ROOT,
  type Dataset,
  heldoutSamples,
  loadDataset,
  makeBatches,
  prepareDataset,
} from "../node/data/index.ts";
import {
  countParams,
  initBackend,
  type ModelPreset,
  modelPresets,
  type TfjsBackendChoice,
} from "../node/model/index.ts";
import { outerLrSchedule } from "../node/sparseloco/index.ts";
import {
  type ContinualPlan,
  continualVariant,
  effectiveFraction,
  type VariantName,
  variantInfo,
  variantNames,
} from "./learning/continual.ts";
import { lineChartSvg, stackCharts } from "./learning/plot.ts";
import { type MethodResult, runMethod, type SimSetup } from "./learning/simulate.ts";

const { values: v } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    preset: { type: "string", default: "nano" },
    peers: { type: "string" },
    batch: { type: "string", default: "20" },
    "seq-len": { type: "string" },
    H: { type: "string" },
    rounds1: { type: "string" },
    rounds2: { type: "string" },
    variants: { type: "string", default: variantNames.join(",") },
    second: { type: "string", default: "ethers-ts" },
    lr: { type: "string", default: "3e-3" },
    warmup: { type: "string" },
    "min-lr-ratio": { type: "string", default: "0.1" },
    "rewarm-lr": { type: "string" },
    "rewarm-warmup": { type: "string" },
    replay: { type: "string", default: "0.05" },
    cooldown: { type: "string" },
    "constant-ratio": { type: "string", default: "0.5" },
    anneal: { type: "string" },
    "weight-decay": { type: "string", default: "0.1" },
    topk: { type: "string", default: "64" },
    beta: { type: "string", default: "0.95" },
    alpha: { type: "string", default: "1" },
    heldout: { type: "string" },
    "eval-every": { type: "string" },
    seed: { type: "string", default: "bench-continual" },
    backend: { type: "string", default: "wasm" },
    out: { type: "string", default: "artifacts/bench-continual" },
    name: { type: "string" },
    merge: { type: "string" },
  },
});

function num(name: string, value: string | undefined, fallback?: number): number {
  const n = value === undefined ? fallback : Number(value);
  if (n === undefined || !Number.isFinite(n)) throw new Error(`--${name}: not a number: ${value}`);
  return n;
}
function count(name: string, value: string | undefined, fallback: number, min = 1): number {
  const n = num(name, value, fallback);
  if (!(Number.isInteger(n) && n >= min)) throw new Error(`--${name}: an integer >= ${min}, got ${value}`);
  return n;
}

const quick = v.quick;
const preset = v.preset as ModelPreset;
const model = modelPresets[preset];
if (!model) throw new Error(`--preset: unknown preset ${v.preset}`);
const K = count("peers", v.peers, 2);
const batch = count("batch", v.batch, 20);
const seqLen = count("seq-len", v["seq-len"], quick ? 32 : model.seqLen);
const H = count("H", v.H, quick ? 4 : 8);
const rounds1 = count("rounds1", v.rounds1, quick ? 4 : 12);
const rounds2 = count("rounds2", v.rounds2, quick ? 4 : 12);
const s1 = rounds1 * H;
const s2 = rounds2 * H;
const warmup = count("warmup", v.warmup, Math.max(1, Math.round(s1 / 8)));
const plan: ContinualPlan = {
  H,
  batch,
  rounds1,
  rounds2,
  peakLr: num("lr", v.lr),
  warmup,
  minRatio: num("min-lr-ratio", v["min-lr-ratio"]),
  rewarmLr: num("rewarm-lr", v["rewarm-lr"], num("lr", v.lr)),
  rewarmWarmup: count("rewarm-warmup", v["rewarm-warmup"], warmup),
  replay: num("replay", v.replay),
  cooldown: count("cooldown", v.cooldown, Math.max(1, Math.round(s1 / 4))),
  constantRatio: num("constant-ratio", v["constant-ratio"]),
  anneal: count("anneal", v.anneal, Math.max(1, Math.round(s2 / 4)), 0),
};
if (!(plan.replay >= 0 && plan.replay <= 1)) throw new Error(`--replay: a fraction in [0, 1], got ${v.replay}`);
if (plan.replay > 0 && effectiveFraction(plan.replay, batch) === 0)
  throw new Error(`--replay ${plan.replay} x --batch ${batch} rounds to no replayed sequence: raise --batch`);
const names = v.variants.split(",").map((n) => n.trim());
for (const n of names)
  if (!(variantNames as readonly string[]).includes(n))
    throw new Error(`--variants: unknown variant ${n} (${variantNames.join(", ")})`);
const nHeld = count("heldout", v.heldout, quick ? 32 : 128);
const rounds = rounds1 + rounds2;
const evalEvery = count("eval-every", v["eval-every"], Math.max(1, Math.round(rounds / 12)));
const tokensPerRound = K * batch * seqLen * H;

type Run = { name: VariantName; label: string; result: MethodResult };
type Config = ContinualPlan & {
  preset: string;
  params: number;
  backend: string;
  K: number;
  seqLen: number;
  tokens: number;
  first: string;
  /** The second corpus' name and manifest source. */
  corpus2: string;
  second: string;
  replayEffective: number;
  heldout: number;
};
const second = corpusByName(v.second).name;
if (second === "brown") throw new Error("--second: a corpus other than brown");
const { config, results } = v.merge === undefined ? await train() : merge(v.merge.split(","));
report(config, results);

async function train(): Promise<{ config: Config; results: Run[] }> {
  if (v.backend === "webgpu")
    throw new Error("--backend: tensorflow, wasm, cpu or auto (the tfjs engines), got webgpu");
  const { backend } = await initBackend(v.backend as TfjsBackendChoice, (m) => console.error(m));
  const load = (corpus: string): Dataset => {
    const dir = path.join(DEFAULT_DATASETS_ROOT, corpus);
    prepareDataset(dir, { corpus }); // idempotent
    return loadDataset(dir);
  };
  const brown = load("brown");
  const code = load(second);
  const held = (ds: Dataset) => makeBatches(ds.heldout, heldoutSamples(ds, v.seed, nHeld, seqLen), 32, seqLen);
  const heldBrown = held(brown);
  const heldCode = held(code);

  const config: Config = {
    preset,
    params: countParams(model),
    backend,
    K,
    seqLen,
    tokens: rounds * tokensPerRound,
    first: brown.manifest.source,
    corpus2: second,
    second: code.manifest.source,
    ...plan,
    replayEffective: effectiveFraction(plan.replay, batch),
    heldout: nHeld,
  };
  console.error(JSON.stringify({ bench: "continual.config", ...config }));

  const results: Run[] = [];
  for (const name of names as VariantName[]) {
    const variant = continualVariant(name, plan, brown, code);
    const setup: SimSetup = {
      model,
      dataset: brown,
      data: variant.data,
      heldout: heldBrown,
      heldoutSets: { [second]: heldCode },
      seed: v.seed,
      runId: v.seed,
      K,
      batch,
      seqLen,
      H,
      rounds,
      evalEvery,
      evalRounds: [rounds1],
      engine: () => ({ optimizer: "adamw", lr: variant.schedule, weightDecay: num("weight-decay", v["weight-decay"]) }),
      sparse: { topk: count("topk", v.topk, 64), beta: num("beta", v.beta), targetChunk: 64, reduce: "chosen" },
      denseRounds: 0,
      alpha: outerLrSchedule({ alpha: num("alpha", v.alpha), shape: "constant", alphaEnd: 1, decayRounds: rounds }),
      diloco: { lr: 0.7, momentum: 0.9 },
    };
    const result = await runMethod(setup, { outer: "sparseloco", optimizer: "adamw" }, (p) =>
      console.log(
        JSON.stringify({
          bench: "continual",
          variant: name,
          round: p.round,
          stage: p.round <= rounds1 ? 1 : 2,
          tokens: p.tokens,
          lr: +variant.schedule(Math.max(0, p.round * H - 1)).toExponential(3),
          brown: +p.heldout.toFixed(4),
          [second]: +p.heldoutBy![second].toFixed(4),
          wall_s: +p.wallSeconds.toFixed(1),
        }),
      ),
    );
    results.push({ name, label: variant.label, result });
  }

  return { config, results };
}

/** Runs of separate processes (their <name>.json), in the order of variantNames. */
function merge(files: string[]): { config: Config; results: Run[] } {
  const parts = files.map((f) => JSON.parse(readFileSync(f, "utf8")) as { config: Config; results: Run[] });
  const { config } = parts[0];
  const same = (c: Config) => JSON.stringify({ ...c, backend: 0 }) === JSON.stringify({ ...config, backend: 0 });
  parts.forEach((p, i) => {
    if (!same(p.config)) throw new Error(`--merge: ${files[i]} ran with other flags than ${files[0]}`);
  });
  const results = parts.flatMap((p) => p.results);
  results.sort((a, b) => variantNames.indexOf(a.name) - variantNames.indexOf(b.name));
  return { config, results };
}

/** The table (stderr, <name>.md), one result line per variant (stdout), <name>.json and the plot <name>.svg. */
function report(config: Config, results: Run[]): void {
  const { preset, K, batch, seqLen, H, rounds1, rounds2, heldout: nHeld, corpus2: second } = config;
  const tokensPerRound = config.tokens / (rounds1 + rounds2);
  const rows = results.map(({ name, label, result }) => {
    const end1 = result.points.find((p) => p.round === rounds1)!;
    const last = result.points.at(-1)!;
    return {
      variant: label,
      brown_stage1: +end1.heldout.toFixed(4),
      brown_final: +last.heldout.toFixed(4),
      forgetting: +(last.heldout - end1.heldout).toFixed(4),
      second_final: +last.heldoutBy![second].toFixed(4),
      tokens: last.tokens,
      wall_s: +result.wallSeconds.toFixed(1),
      what: variantInfo[name].what,
    };
  });
  for (const row of rows) console.log(JSON.stringify({ bench: "continual.result", ...row }));

  const table = [
    `${preset}, ${K} peers x batch ${batch}, T ${seqLen}, H ${H}; stage 1 brown ${rounds1} rounds, stage 2 ${second} ${rounds2} rounds; ${(config.tokens / 1e6).toFixed(3)}M tokens per variant; replay ${(100 * config.replayEffective).toFixed(1)} %; held-out: ${nHeld} windows per corpus`,
    "",
    `| variant | Brown after stage 1 | Brown final | forgetting (Δ Brown) | ${second} final | tokens | wall s |`,
    "|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.variant} | ${r.brown_stage1.toFixed(3)} | ${r.brown_final.toFixed(3)} | ${r.forgetting >= 0 ? "+" : ""}${r.forgetting.toFixed(3)} | ${r.second_final.toFixed(3)} | ${r.tokens.toLocaleString("en-US")} | ${r.wall_s.toFixed(0)} |`,
    ),
  ].join("\n");
  console.error(`\n${table}\n`);

  const name = v.name ?? `${preset}-r${rounds1}+${rounds2}${quick ? "-quick" : ""}`;
  mkdirSync(v.out, { recursive: true });
  writeFileSync(path.join(v.out, `${name}.json`), `${JSON.stringify({ config, rows, results }, null, 1)}\n`);
  writeFileSync(path.join(v.out, `${name}.md`), `${table}\n`);
  const chart = (title: string, y: (p: MethodResult["points"][number]) => number) =>
    lineChartSvg(
      results.map(({ label, result }) => ({
        label,
        points: result.points.map((p) => ({ x: p.tokens / 1e6, y: y(p) })),
      })),
      {
        title,
        xLabel: "tokens (millions)",
        yLabel: "held-out loss (nats/token)",
        yMax: 4,
        marks: [{ x: (rounds1 * tokensPerRound) / 1e6, label: `stage 2: ${second}` }],
      },
    );
  writeFileSync(
    path.join(v.out, `${name}.svg`),
    stackCharts([
      chart(`${preset}: held-out loss on Brown (stage 1)`, (p) => p.heldout),
      chart(`${preset}: held-out loss on ${second} (stage 2)`, (p) => p.heldoutBy![second]),
    ]),
  );
  console.error(`wrote ${path.join(v.out, name)}.{json,md,svg}`);
}
