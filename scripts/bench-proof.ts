// The proof-of-training signal on real training (issue 16, docs/security.md "Gaming"): K honest peers
// train H inner steps from θ_r on their assignments, one "overfitter" spends the same H steps on only the
// first --overfit samples of its assignment (and announces the whole of it), all through SparseLoCo;
// the validator's real Scorer then measures each update's held-out gain, own-sample gain and the
// continuous proof, and the honest updates make θ_{r+1}. One JSON line per round, then a summary: the
// honest proof's mean and sd, the honest held-out gain's relative sd, the overfitter's proof and its
// held-out gain relative to the honest mean — the numbers the gaming simulation's model needs — and
// the index overlaps of real updates (largest pairwise, cover by all earlier ones, copy/mix verdict).
// npm run bench:proof -- [--preset nano] [--peers 4] [--steps 8] [--batch 8] [--rounds 6] [--overfit 16]
import { parseArgs } from "node:util";
import { innerLrSchedule, runConfigSchema } from "../node/config/index.ts";
import {
  DEFAULT_DATASET_DIR,
  assignSamples,
  assignmentBatches,
  loadDataset,
  prepareDataset,
} from "../node/data/index.ts";
import { sha256 } from "../node/hash/index.ts";
import { type BackendChoice, type ModelPreset, initParams, modelPresets, paramSpecs } from "../node/model/index.ts";
import { buildAnnouncement } from "../node/roles/announcement.ts";
import type { Gathered } from "../node/roles/inbox.ts";
import { Scorer } from "../node/roles/scorer.ts";
import { coverBy, detectCopies, indexOverlap } from "../node/scoring/index.ts";
import {
  type ParamMap,
  type SparseUpdate,
  makeUpdate,
  modelHash,
  numel,
  selectedCoordinates,
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
    rounds: { type: "string", default: "6" },
    overfit: { type: "string", default: "16" },
    heldout: { type: "string", default: "16" },
    own: { type: "string", default: "16" },
  },
});
const int = (name: keyof typeof values) => {
  const n = Number(values[name]);
  if (!(Number.isInteger(n) && n > 0)) throw new Error(`--${name}: want a positive integer, got ${values[name]}`);
  return n;
};
const preset = values.preset as ModelPreset;
const model = modelPresets[preset];
if (!model) throw new Error(`--preset: unknown preset ${values.preset}`);
const [K, H, B, R, F] = [int("peers"), int("steps"), int("batch"), int("rounds"), int("overfit")];
if (F % B !== 0 || F > H * B) throw new Error(`--overfit: want a multiple of --batch up to steps × batch, got ${F}`);

prepareDataset(DEFAULT_DATASET_DIR);
const dataset = loadDataset(DEFAULT_DATASET_DIR);
const specs = paramSpecs(model);
const T = model.seqLen;
const run = runConfigSchema.parse({ runId: "bench-proof", model: { preset }, train: { innerSteps: H, batchSize: B } });
const lr = innerLrSchedule(run.train);
const addresses = Array.from({ length: K + 1 }, (_, k) => `0x${(k + 1).toString(16).padStart(40, "0")}`);
const overfitter = addresses[K];

const first = await openEngine(
  { backend: values.backend as BackendChoice, lr, weightDecay: run.train.weightDecay },
  { config: model, log: (m) => console.error(m) },
);
const engines: TrainingEngine[] = [
  first.engine,
  ...Array.from({ length: K }, () => createEngine({ lr, weightDecay: run.train.weightDecay }, { config: model })),
];
const scorer = new Scorer(
  {
    runId: run.runId,
    seqLen: T,
    batchSize: B,
    innerSteps: H,
    heldoutSamples: int("heldout"),
    ownSamples: int("own"),
    alpha: run.sparseloco.alpha,
    evalLrFactor: 1,
    copyThreshold: 0.4,
  },
  { engine: first.engine, dataset, specs, metrics: null },
);

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
const honestProofs: number[] = [];
const honestGainRelSd: number[] = [];
const overfitProofs: number[] = [];
const overfitGainRatio: number[] = [];
const t0 = performance.now();
let theta: ParamMap = initParams(model, 1);
const ef = addresses.map(() => zeroErrorFeedback(specs, theta));
for (let r = 0; r < R; r++) {
  const state = { round: r, params: theta, hash: modelHash(theta, specs) };
  const gathered: Gathered[] = [];
  const honest = new Map<string, SparseUpdate>();
  for (let k = 0; k <= K; k++) {
    const address = addresses[k];
    const a = assignSamples({ runId: run.runId, round: r, address, count: H * B, seqLen: T, batchSize: B }, dataset);
    const batches = assignmentBatches(a, dataset, B, T);
    const used = address === overfitter ? batches.slice(0, F / B) : batches;
    const res = await engines[k].train(theta, used, H, { stepOffset: globalInnerStep(r, 0, H) });
    const made = makeUpdate(theta, res.params, ef[k], specs, run.sparseloco);
    ef[k] = made.errorFeedback;
    const u = made.update;
    if (address !== overfitter) honest.set(address, u.tensors);
    const ann = {
      runId: run.runId,
      multiaddrs: [],
      ...buildAnnouncement({ round: r, baseModelHash: state.hash, payloadHash: u.payloadHash, payload: u.payload }),
      samples: H * B,
    };
    gathered.push({
      round: r,
      address,
      peerId: address as never,
      ann,
      receivedAt: k,
      payloadHash: u.payloadHash,
      bytes: u.payload,
      update: u.tensors,
    });
  }
  // Index overlaps of real updates, on the sparse tensors as the Scorer takes them: the largest pairwise
  // overlap with an earlier update, the share all earlier updates cover, and detectCopies' verdict.
  const sparseIdx = gathered.map((g) => {
    const all = selectedCoordinates(g.update, specs);
    for (const s of specs) {
      const t = g.update.get(s.name)!;
      if (t.k >= numel(s.shape) / t.chunkGrid.reduce((a, b) => a * b, 1)) all.delete(s.name);
    }
    return { id: g.address, indices: all };
  });
  const flagged = detectCopies(sparseIdx, 0.4, new Map(specs.map((s) => [s.name, numel(s.shape)])));
  const overlapOf = (a: string) => {
    const i = addresses.indexOf(a);
    const earlier = sparseIdx.slice(0, i);
    const pair = Math.max(0, ...earlier.map((e) => indexOverlap(sparseIdx[i].indices, e.indices)));
    const all = coverBy(
      sparseIdx[i].indices,
      earlier.map((e) => e.indices),
    );
    return { pairMax: +pair.toFixed(3), coverAll: +all.toFixed(3), flagged: flagged.has(a) };
  };
  const seed = sha256(new TextEncoder().encode(`bench-proof/${r}`));
  const { verdicts, lossBefore } = await scorer.score(state, { received: gathered, gathered, dropped: [] }, seed);
  const rows = addresses.map((a) => {
    const c = verdicts.get(a)!.components;
    return { peer: a === overfitter ? "overfitter" : `honest${addresses.indexOf(a)}`, ...c, overlap: overlapOf(a) };
  });
  const hs = rows.filter((x) => x.peer !== "overfitter");
  const o = rows.find((x) => x.peer === "overfitter")!;
  const hGain = hs.map((x) => x.heldOutGain);
  honestProofs.push(...hs.map((x) => x.proof));
  honestGainRelSd.push(sd(hGain) / Math.abs(mean(hGain)));
  overfitProofs.push(o.proof);
  overfitGainRatio.push(o.heldOutGain / mean(hGain));
  console.log(
    JSON.stringify({
      bench: "proof.round",
      round: r,
      lossBefore: +lossBefore.toFixed(4),
      peers: rows.map((x) => ({
        peer: x.peer,
        heldOutGain: +x.heldOutGain.toFixed(5),
        ownGain: +x.ownGain.toFixed(5),
        proof: +x.proof.toFixed(3),
        reason: x.reason,
        ...x.overlap,
      })),
    }),
  );
  theta = nextModel(theta, honest, specs, run.sparseloco).params;
}
for (const e of engines) e.dispose();
const f = (x: number) => +x.toFixed(3);
console.log(
  JSON.stringify({
    bench: "proof",
    preset,
    backend: first.backend.backend,
    peers: K,
    inner_steps: H,
    batch: B,
    rounds: R,
    overfit_samples: F,
    honest_proof_mean: f(mean(honestProofs)),
    honest_proof_sd: f(sd(honestProofs)),
    honest_heldout_gain_rel_sd: f(mean(honestGainRelSd)),
    overfitter_proof_mean: f(mean(overfitProofs)),
    overfitter_gain_ratio: f(mean(overfitGainRatio)),
    seconds: f((performance.now() - t0) / 1000),
  }),
);
process.exit(0);
