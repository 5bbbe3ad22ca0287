/**
 * Learning benchmark: held-out loss at equal tokens for AdamW-DDP, DiLoCo, SparseLoCo and MuLoCo
 * (Muon inner + SparseLoCo), K simulated peers in one process through the network's own functions
 * (scripts/learning/simulate.ts). docs/learning.md explains the table.
 *
 * Usage: npm run bench:learning -- [--quick] [--preset nano] [--peers 4] [--batch 8] [--H 30]
 *   [--tokens 1228800 | --rounds R] [--methods ddp,diloco,sparseloco,muloco] [--optimizer adamw|muon]
 *   [--lr 3e-3] [--ddp-lr X] [--muon-lr 0.02] [--topk 64] [--beta 0.95] [--alpha 1]
 *   [--alpha-schedule constant|linear|cosine] [--alpha-end 0.4] [--dense-rounds 0] [--reduce chosen|all]
 *   [--out artifacts/bench-learning] [--seed S] [--name N]
 *        npm run bench:learning -- --combine a.json[=label],b.json[=label] [--name N]   (earlier runs, one report)
 * stdout: one JSON line per evaluation, then one per method with the final numbers; stderr: the table.
 * Files: <out>/<name>.json (everything), <name>.md (the table), <name>.svg (loss against tokens).
 */
import { parseArgs } from "node:util";
import { DEFAULT_DATASET_DIR, heldoutSamples, loadDataset, makeBatches, prepareDataset } from "../node/data/index.ts";
import {
  countParams,
  initBackend,
  type ModelPreset,
  modelPresets,
  type TfjsBackendChoice,
} from "../node/model/index.ts";
import { type AggregateReduce, type OuterLrShape, outerLrSchedule } from "../node/sparseloco/index.ts";
import { type InnerOptimizer, innerOptimizers, warmupCosine } from "../node/train/index.ts";
import { combineRuns, writeReport } from "./learning/report.ts";
import { type MethodResult, type MethodSpec, runMethod, type SimSetup } from "./learning/simulate.ts";

const { values: v } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    preset: { type: "string", default: "nano" },
    peers: { type: "string" },
    batch: { type: "string" },
    "seq-len": { type: "string" },
    H: { type: "string" },
    tokens: { type: "string" },
    rounds: { type: "string" },
    methods: { type: "string", default: "ddp,diloco,sparseloco,muloco" },
    optimizer: { type: "string", default: "adamw" },
    lr: { type: "string", default: "3e-3" },
    "ddp-lr": { type: "string" },
    "muon-lr": { type: "string", default: "0.02" },
    warmup: { type: "string", default: "20" },
    "min-lr-ratio": { type: "string", default: "0.1" },
    "weight-decay": { type: "string", default: "0.1" },
    topk: { type: "string", default: "64" },
    beta: { type: "string", default: "0.95" },
    "target-chunk": { type: "string", default: "64" },
    "dense-rounds": { type: "string", default: "0" },
    reduce: { type: "string", default: "chosen" },
    alpha: { type: "string", default: "1" },
    "alpha-schedule": { type: "string", default: "constant" },
    "alpha-end": { type: "string", default: "0.4" },
    "alpha-decay-rounds": { type: "string" },
    "diloco-lr": { type: "string", default: "0.7" },
    "diloco-momentum": { type: "string", default: "0.9" },
    heldout: { type: "string" },
    "eval-every": { type: "string" },
    seed: { type: "string", default: "bench-learning" },
    backend: { type: "string", default: "wasm" },
    out: { type: "string", default: "artifacts/bench-learning" },
    name: { type: "string" },
    combine: { type: "string" },
  },
});

// --combine a.json[=label],b.json[=label]: one table and plot from earlier runs, nothing trained.
if (v.combine) {
  const { config, results } = combineRuns(v.combine);
  writeReport(config, results, v.out, v.name ?? "combined");
  process.exit(0);
}

function num(name: string, value: string | undefined, fallback?: number): number {
  const n = value === undefined ? fallback : Number(value);
  if (n === undefined || !Number.isFinite(n)) throw new Error(`--${name}: not a number: ${value}`);
  return n;
}

function parseMethods(list: string, defaultOpt: InnerOptimizer): MethodSpec[] {
  return list.split(",").map((tok) => {
    const [name, opt] = tok.trim().split("+");
    if (name === "muloco") return { outer: "sparseloco", optimizer: "muon" };
    if (name !== "ddp" && name !== "diloco" && name !== "sparseloco")
      throw new Error(`--methods: unknown method ${name} (ddp, diloco, sparseloco, muloco; suffix +muon/+adamw)`);
    const optimizer = (opt ?? defaultOpt) as InnerOptimizer;
    if (!innerOptimizers.includes(optimizer)) throw new Error(`--methods: unknown optimizer ${opt} in ${tok}`);
    return { outer: name, optimizer };
  });
}

const quick = v.quick;
const preset = v.preset as ModelPreset;
const model = modelPresets[preset];
if (!model) throw new Error(`--preset: unknown preset ${v.preset}`);
const K = num("peers", v.peers, quick ? 2 : 4);
const batch = num("batch", v.batch, quick ? 4 : 8);
const seqLen = num("seq-len", v["seq-len"], quick ? 32 : model.seqLen);
const H = num("H", v.H, quick ? 8 : 30);
const tokensPerRound = K * batch * seqLen * H;
// Default budget: the 1.23M tokens (600 steps of 4 x 8 x 64); --quick: 2 peers, 6 rounds of H=8 (under a minute).
const rounds = v.rounds
  ? num("rounds", v.rounds)
  : quick
    ? 6
    : Math.round(num("tokens", v.tokens, 1_228_800) / tokensPerRound);
if (!(rounds >= 1)) throw new Error("--tokens/--rounds: at least one round");
const totalSteps = rounds * H;
const optimizer = v.optimizer as InnerOptimizer;
if (!innerOptimizers.includes(optimizer)) throw new Error(`--optimizer: one of ${innerOptimizers.join(", ")}`);
const methods = parseMethods(v.methods, optimizer);
if (v.reduce !== "chosen" && v.reduce !== "all") throw new Error(`--reduce: chosen or all, got ${v.reduce}`);
const lr = num("lr", v.lr);
const ddpLr = num("ddp-lr", v["ddp-lr"], lr);
const warmup = num("warmup", v.warmup);
const minRatio = num("min-lr-ratio", v["min-lr-ratio"]);
const schedule = (peak: number) => warmupCosine({ peakLr: peak, warmupSteps: warmup, totalSteps, minRatio });
const nHeld = num("heldout", v.heldout, quick ? 32 : 128);
const evalEvery = num("eval-every", v["eval-every"], Math.max(1, Math.round(rounds / 15)));

// The simulation trains on the tfjs engines (createEngine): Muon has no WebGPU kernels (docs/learning.md).
if (v.backend === "webgpu") throw new Error("--backend: tensorflow, wasm, cpu or auto (the tfjs engines), got webgpu");
const { backend } = await initBackend(v.backend as TfjsBackendChoice, (m) => console.error(m));
prepareDataset(DEFAULT_DATASET_DIR); // idempotent
const dataset = loadDataset(DEFAULT_DATASET_DIR);
const heldout = makeBatches(dataset.heldout, heldoutSamples(dataset, v.seed, nHeld, seqLen), 32, seqLen);

const setup: SimSetup = {
  model,
  dataset,
  heldout,
  seed: v.seed,
  runId: v.seed,
  K,
  batch,
  seqLen,
  H,
  rounds,
  evalEvery,
  engine: (m) => ({
    optimizer: m.optimizer,
    lr: schedule(m.outer === "ddp" ? ddpLr : lr),
    weightDecay: num("weight-decay", v["weight-decay"]),
    muon: { lr: schedule(num("muon-lr", v["muon-lr"])), momentum: 0.95, nesterov: true, nsSteps: 5 },
  }),
  sparse: {
    topk: num("topk", v.topk),
    beta: num("beta", v.beta),
    targetChunk: num("target-chunk", v["target-chunk"]),
    reduce: v.reduce as AggregateReduce,
  },
  denseRounds: num("dense-rounds", v["dense-rounds"]),
  alpha: outerLrSchedule({
    alpha: num("alpha", v.alpha),
    shape: v["alpha-schedule"] as OuterLrShape,
    alphaEnd: num("alpha-end", v["alpha-end"]),
    decayRounds: num("alpha-decay-rounds", v["alpha-decay-rounds"], rounds),
  }),
  diloco: { lr: num("diloco-lr", v["diloco-lr"]), momentum: num("diloco-momentum", v["diloco-momentum"]) },
};
const config = {
  preset,
  params: countParams(model),
  backend,
  K,
  batch,
  seqLen,
  H,
  rounds,
  tokens: rounds * tokensPerRound,
  lr,
  ddpLr,
  muonLr: num("muon-lr", v["muon-lr"]),
  warmup,
  minRatio,
  topk: setup.sparse.topk,
  beta: setup.sparse.beta,
  denseRounds: setup.denseRounds,
  reduce: setup.sparse.reduce,
  alpha: num("alpha", v.alpha),
  alphaSchedule: v["alpha-schedule"],
  alphaEnd: num("alpha-end", v["alpha-end"]),
  heldout: nHeld,
  seed: v.seed,
};
console.error(JSON.stringify({ bench: "learning.config", ...config }));

const results: MethodResult[] = [];
for (const m of methods) {
  const r = await runMethod(setup, m, (p) =>
    console.log(JSON.stringify({ bench: "learning", method: `${m.outer}+${m.optimizer}`, H, ...p })),
  );
  results.push(r);
}

writeReport(config, results, v.out, v.name ?? `${preset}-H${H}${quick ? "-quick" : ""}`);
