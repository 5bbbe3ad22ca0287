/**
 * Learning cost of keeping communication off the critical path (docs/roles.md "Off the critical path"),
 * at equal tokens, against the synchronous design: K simulated peers run R rounds of H inner steps each
 * through the network's own functions — the per-peer sample assignment, the run's inner lr at (round,
 * step), the tfjs engine (AdamW moments kept per peer across rounds, as a peer process does), SparseLoCo
 * compression with error feedback, the wire codec, the aggregation and outer step — and a fixed held-out
 * sample is evaluated on θ_r as the rounds go. Designs:
 *
 *   sync        round r trains from θ_r (each peer waits for round r−1's outer step)
 *   overlap:s   what the peers do: round r starts at once from the peer's own end of round r−1; after s
 *               steps θ_r is known and the state is rebased onto it (x + θ_r − start), the rest of the
 *               round continues from there; Δ = θ_r − θ_end as in sync (base H(θ_r))
 *   delayed     round r trains from θ_{r−1} and its update is applied to θ_r (a one-round-delayed outer
 *               step, Streaming/async DiLoCo style); measured and rejected (docs/roles.md)
 *
 *   npm run bench:overlap -- [--designs sync,overlap:1,overlap:2,delayed] [--preset nano] [--peers 4]
 *                            [--steps 8] [--batch 8] [--rounds 30] [--seeds 1] [--eval-every 5]
 *
 * Prints one JSON line per evaluation ({design, seed, round, tokens, heldout}) and a last summary line:
 * the final held-out loss of each design (mean over seeds) and its `relative` difference to sync.
 */
import { parseArgs } from "node:util";
import { innerLrSchedule, runConfigSchema } from "../node/config/index.ts";
import {
  DEFAULT_DATASET_DIR,
  assignSamples,
  assignmentBatches,
  heldoutSamples,
  loadDataset,
  makeBatches,
  prepareDataset,
} from "../node/data/index.ts";
import { type BackendChoice, type ModelPreset, initParams, modelPresets, paramSpecs } from "../node/model/index.ts";
import {
  type ParamMap,
  type SparseUpdate,
  decodeUpdate,
  makeUpdate,
  nextModel,
  rebaseParams,
  zeroErrorFeedback,
} from "../node/sparseloco/index.ts";
import { type TrainingEngine, createEngine, globalInnerStep, openEngine } from "../node/train/index.ts";

const { values } = parseArgs({
  options: {
    designs: { type: "string", default: "sync,overlap:1,overlap:2,delayed" },
    preset: { type: "string", default: "nano" },
    backend: { type: "string", default: "wasm" },
    peers: { type: "string", default: "4" },
    steps: { type: "string", default: "8" },
    batch: { type: "string", default: "8" },
    rounds: { type: "string", default: "30" },
    seeds: { type: "string", default: "1" },
    "eval-every": { type: "string", default: "5" },
    heldout: { type: "string", default: "64" },
  },
});
const preset = values.preset as ModelPreset;
const model = modelPresets[preset];
if (!model) throw new Error(`--preset: unknown preset ${values.preset}`);
const int = (name: keyof typeof values) => {
  const n = Number(values[name]);
  if (!(Number.isInteger(n) && n > 0)) throw new Error(`--${name}: want a positive integer, got ${values[name]}`);
  return n;
};
const K = int("peers");
const H = int("steps");
const B = int("batch");
const R = int("rounds");
const evalEvery = int("eval-every");
const seeds = String(values.seeds).split(",").map(Number);

type Design = { kind: "sync" } | { kind: "overlap"; stale: number } | { kind: "delayed" };
const designs: Array<{ name: string; design: Design }> = String(values.designs)
  .split(",")
  .map((name) => {
    if (name === "sync" || name === "delayed") return { name, design: { kind: name } };
    const m = /^overlap:(\d+)$/.exec(name);
    if (m && Number(m[1]) < H) return { name, design: { kind: "overlap", stale: Number(m[1]) } };
    throw new Error(`--designs: want sync, delayed or overlap:<steps < ${H}>, got ${name}`);
  });

prepareDataset(DEFAULT_DATASET_DIR);
const dataset = loadDataset(DEFAULT_DATASET_DIR);
const specs = paramSpecs(model);
const T = model.seqLen;
const run = runConfigSchema.parse({
  runId: "bench-overlap",
  model: { preset },
  train: { innerSteps: H, batchSize: B },
});
const lr = innerLrSchedule(run.train);
const held = makeBatches(dataset.heldout, heldoutSamples(dataset, "bench-overlap", int("heldout"), T), B, T);
const addresses = Array.from({ length: K }, (_, k) => `0x${(k + 1).toString(16).padStart(40, "0")}`);

const first = await openEngine(
  { backend: values.backend as BackendChoice, lr, weightDecay: run.train.weightDecay },
  { config: model, log: (m) => console.error(m) },
);
const engines: TrainingEngine[] = [
  first.engine,
  ...Array.from({ length: K - 1 }, () => createEngine({ lr, weightDecay: run.train.weightDecay }, { config: model })),
];

interface Final {
  design: string;
  seed: number;
  heldout: number;
  tokens: number;
  seconds: number;
}

/** One peer's round r: θ_end, from θ_r (sync), from its own last end then rebased (overlap), or from θ_{r−1}. */
async function trainRound(
  design: Design,
  engine: TrainingEngine,
  r: number,
  models: ParamMap[],
  ownEnd: ParamMap | undefined,
  address: string,
): Promise<{ base: ParamMap; end: ParamMap; tokens: number }> {
  const a = assignSamples({ runId: run.runId, round: r, address, count: H * B, seqLen: T, batchSize: B }, dataset);
  const batches = assignmentBatches(a, dataset, B, T);
  const at = (step: number) => ({ stepOffset: globalInnerStep(r, step, H) });
  if (design.kind === "delayed") {
    const base = models[Math.max(0, r - 1)];
    const res = await engine.train(base, batches, H, at(0));
    return { base, end: res.params, tokens: res.tokens };
  }
  const base = models[r];
  if (design.kind === "sync" || ownEnd === undefined || design.stale === 0) {
    const res = await engine.train(base, batches, H, at(0));
    return { base, end: res.params, tokens: res.tokens };
  }
  const early = await engine.train(ownEnd, batches, design.stale, at(0));
  const rebased = rebaseParams(early.params, ownEnd, base, specs);
  const rest = await engine.train(rebased, batches.slice(design.stale), H - design.stale, at(design.stale));
  return { base, end: rest.params, tokens: early.tokens + rest.tokens };
}

async function simulate(name: string, design: Design, seed: number): Promise<Final> {
  const t0 = performance.now();
  for (const e of engines) e.resetOptimizerState();
  const theta0 = initParams(model, seed);
  const models: ParamMap[] = [theta0]; // models[r] = θ_r
  const ef = addresses.map(() => zeroErrorFeedback(specs, theta0));
  const ends: Array<ParamMap | undefined> = addresses.map(() => undefined);
  let tokens = 0;
  let heldout = await engines[0].evaluate(theta0, held);
  console.log(JSON.stringify({ design: name, seed, round: 0, tokens, heldout: +heldout.toFixed(4) }));
  for (let r = 0; r < R; r++) {
    const updates = new Map<string, SparseUpdate>();
    for (let k = 0; k < K; k++) {
      const t = await trainRound(design, engines[k], r, models, ends[k], addresses[k]);
      tokens += t.tokens;
      ends[k] = t.end;
      const made = makeUpdate(t.base, t.end, ef[k], specs, run.sparseloco);
      ef[k] = made.errorFeedback;
      updates.set(addresses[k], decodeUpdate(made.update.payload, specs, run.sparseloco));
    }
    models.push(nextModel(models[r], updates, specs, run.sparseloco).params);
    if (r >= 2) models[r - 2] = new Map(); // only θ_{r−1} and θ_r are read again
    if ((r + 1) % evalEvery === 0 || r === R - 1) {
      heldout = await engines[0].evaluate(models[r + 1], held);
      console.log(JSON.stringify({ design: name, seed, round: r + 1, tokens, heldout: +heldout.toFixed(4) }));
    }
  }
  return { design: name, seed, heldout, tokens, seconds: (performance.now() - t0) / 1000 };
}

const finals: Final[] = [];
for (const seed of seeds) for (const d of designs) finals.push(await simulate(d.name, d.design, seed));
for (const e of engines) e.dispose();

const mean = (name: string) => {
  const xs = finals.filter((f) => f.design === name).map((f) => f.heldout);
  return xs.reduce((a, b) => a + b, 0) / xs.length;
};
const sync = designs.some((d) => d.name === "sync") ? mean("sync") : null;
console.log(
  JSON.stringify({
    bench: "overlap",
    preset,
    backend: first.backend.backend,
    peers: K,
    inner_steps: H,
    batch: B,
    rounds: R,
    seeds,
    tokens_each: finals[0]?.tokens,
    heldout: Object.fromEntries(designs.map((d) => [d.name, +mean(d.name).toFixed(4)])),
    relative_to_sync:
      sync === null ? null : Object.fromEntries(designs.map((d) => [d.name, +(mean(d.name) / sync - 1).toFixed(4)])),
    per_seed: finals.map((f) => ({ ...f, heldout: +f.heldout.toFixed(4), seconds: +f.seconds.toFixed(1) })),
  }),
);
