/**
 * Learning cost of the one-round-delayed outer step (run config `sparseloco.outerDelay` 1, docs/roles.md
 * "Off the critical path") against the synchronous design (outerDelay 0), at equal tokens: K simulated
 * peers run R rounds of H inner steps each through the network's own functions — the per-peer sample
 * assignment, the run's inner lr at (round, step), the tfjs engine, SparseLoCo compression with error
 * feedback, the wire codec, the aggregation and outer step, and the base rule of the roles
 * (`trainingBaseRound`) — and a fixed held-out sample is evaluated on θ_r as the rounds go.
 *
 *   npm run bench:overlap -- [--preset nano] [--peers 4] [--steps 8] [--batch 8] [--rounds 24]
 *                            [--seeds 1,2] [--eval-every 4] [--heldout 64] [--backend wasm]
 *
 * Prints one JSON line per evaluation ({delay, seed, round, tokens, heldout}) and a last summary line
 * with the final held-out loss of each design (mean over seeds) and `relative` = delayed/sync − 1.
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
import { type OuterDelay, trainingBaseRound } from "../node/roles/state-store.ts";
import {
  type ParamMap,
  type SparseUpdate,
  decodeUpdate,
  makeUpdate,
  nextModel,
  zeroErrorFeedback,
} from "../node/sparseloco/index.ts";
import { type TrainingEngine, createEngine, globalInnerStep, openEngine } from "../node/train/index.ts";

const { values } = parseArgs({
  options: {
    preset: { type: "string", default: "nano" },
    backend: { type: "string", default: "wasm" },
    peers: { type: "string", default: "4" },
    steps: { type: "string", default: "8" },
    batch: { type: "string", default: "8" },
    rounds: { type: "string", default: "24" },
    seeds: { type: "string", default: "1" },
    delays: { type: "string", default: "0,1" },
    "eval-every": { type: "string", default: "4" },
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
const delays = String(values.delays)
  .split(",")
  .map((d) => {
    if (d !== "0" && d !== "1") throw new Error(`--delays: want 0 and/or 1, got ${d}`);
    return Number(d) as OuterDelay;
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
// One engine per simulated peer: each keeps its own AdamW moments across rounds, as a peer process does.
const engines: TrainingEngine[] = [
  first.engine,
  ...Array.from({ length: K - 1 }, () => createEngine({ lr, weightDecay: run.train.weightDecay }, { config: model })),
];

interface Final {
  delay: OuterDelay;
  seed: number;
  heldout: number;
  tokens: number;
  seconds: number;
}

async function simulate(delay: OuterDelay, seed: number): Promise<Final> {
  const t0 = performance.now();
  for (const e of engines) e.resetOptimizerState();
  const theta0 = initParams(model, seed);
  // models[r] = θ_r; the outer step of round r takes θ_r to θ_{r+1} with round r's updates.
  const models: ParamMap[] = [theta0];
  const ef = addresses.map(() => zeroErrorFeedback(specs, theta0));
  let tokens = 0;
  let heldout = await engines[0].evaluate(theta0, held);
  console.log(JSON.stringify({ delay, seed, round: 0, tokens, heldout: +heldout.toFixed(4) }));
  for (let r = 0; r < R; r++) {
    const base = models[trainingBaseRound(r, delay)];
    const updates = new Map<string, SparseUpdate>();
    for (let k = 0; k < K; k++) {
      const a = assignSamples(
        { runId: run.runId, round: r, address: addresses[k], count: H * B, seqLen: T, batchSize: B },
        dataset,
      );
      const res = await engines[k].train(base, assignmentBatches(a, dataset, B, T), H, {
        stepOffset: globalInnerStep(r, 0, H),
      });
      tokens += res.tokens;
      const made = makeUpdate(base, res.params, ef[k], specs, run.sparseloco);
      ef[k] = made.errorFeedback;
      updates.set(addresses[k], decodeUpdate(made.update.payload, specs, run.sparseloco));
    }
    models.push(nextModel(models[r], updates, specs, run.sparseloco).params);
    if (models.length > 3) models[models.length - 4] = new Map(); // only θ_{r−1} and θ_r are read again
    if ((r + 1) % evalEvery === 0 || r === R - 1) {
      heldout = await engines[0].evaluate(models[r + 1], held);
      console.log(JSON.stringify({ delay, seed, round: r + 1, tokens, heldout: +heldout.toFixed(4) }));
    }
  }
  return { delay, seed, heldout, tokens, seconds: (performance.now() - t0) / 1000 };
}

const finals: Final[] = [];
for (const seed of seeds) for (const delay of delays) finals.push(await simulate(delay, seed));
for (const e of engines) e.dispose();

const mean = (d: OuterDelay) => {
  const xs = finals.filter((f) => f.delay === d).map((f) => f.heldout);
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
};
const sync = mean(0);
const delayed = mean(1);
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
    heldout_sync: sync === null ? null : +sync.toFixed(4),
    heldout_delayed: delayed === null ? null : +delayed.toFixed(4),
    relative: sync !== null && delayed !== null ? +(delayed / sync - 1).toFixed(4) : null,
    per_seed: finals.map((f) => ({ ...f, heldout: +f.heldout.toFixed(4), seconds: +f.seconds.toFixed(1) })),
  }),
);
