// The validator's round with many peers (issue 16): fetch-free, from decoded updates, it runs what
// runValidator does after gathering — the gather set's outer step, then Scorer.score under the budget the
// testnet's scoring window leaves — and prints one JSON line per round plus a summary: scoring seconds,
// updates evaluated within the budget, the time to evaluate all of them (no budget), and peak RSS.
// npm run bench:validator -- --peers 64 [--preset micro] [--rounds 2] [--backend auto] [--budget <s>|none]
import { parseArgs } from "node:util";
import { DEFAULT_DATASET_DIR, loadDataset } from "../node/data/index.ts";
import { type Hash32, sha256 } from "../node/hash/index.ts";
import { type ModelPreset, initParams, modelPresets, paramSpecs } from "../node/model/index.ts";
import { buildAnnouncement } from "../node/roles/announcement.ts";
import type { Gathered } from "../node/roles/inbox.ts";
import { defaultRoleOptions } from "../node/roles/options.ts";
import { Scorer } from "../node/roles/scorer.ts";
import { modelHash, makeUpdate, nextModel, zeroErrorFeedback } from "../node/sparseloco/index.ts";
import { defaultTestnetOptions, testnetDeployParams } from "../node/testnet/options.ts";
import { openEngine } from "../node/train/open.ts";
import { prng } from "../tests/fixtures/prng.ts";

const { values } = parseArgs({
  options: {
    peers: { type: "string", default: "64" },
    preset: { type: "string", default: "micro" },
    rounds: { type: "string", default: "2" },
    backend: { type: "string", default: "auto" },
    budget: { type: "string" },
    gather: { type: "string", default: "16" },
  },
});
const N = Number(values.peers);
const preset = values.preset as ModelPreset;
if (!(preset in modelPresets)) throw new Error(`--preset ${preset}: one of ${Object.keys(modelPresets).join(", ")}`);
const config = modelPresets[preset];
const specs = paramSpecs(config);
const mib = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));
const peakRss = () => process.resourceUsage().maxRSS * 1024;

// The testnet's window: scoring starts after the gather grace; the submission must leave the tx margin.
const t = defaultTestnetOptions;
const windowSeconds = testnetDeployParams(t).scoringSeconds ?? 0;
const defaultBudget =
  windowSeconds - defaultRoleOptions.gatherGraceMs / 1000 - defaultRoleOptions.txMarginSeconds - 0.5;
const budget = values.budget === "none" ? Number.POSITIVE_INFINITY : Number(values.budget ?? defaultBudget);

const dataset = loadDataset(DEFAULT_DATASET_DIR);
const { engine, backend } = await openEngine({ backend: values.backend as "auto" }, { config });
const theta = initParams(config, 1);
const state = { round: 0, params: theta, hash: modelHash(theta, specs) as Hash32 };
const rssBase = peakRss();

// N peers' updates: θ moved along a seeded direction each (a micro update: top-k of every 64-chunk)
const sparse = { topk: 64, targetChunk: 64, beta: 0.95, alpha: 1 };
const gathered: Gathered[] = [];
let payloadBytes = 0;
for (let i = 0; i < N; i++) {
  const rnd = prng(1000 + i);
  const end = new Map([...theta].map(([k, v]) => [k, v.map((x) => x + (rnd() - 0.5) * 2e-3)]));
  const { update } = makeUpdate(theta, end, zeroErrorFeedback(specs, theta), specs, sparse);
  const address = `0x${(i + 1).toString(16).padStart(40, "0")}`;
  const ann = {
    runId: "bench",
    multiaddrs: [],
    ...buildAnnouncement({
      round: 0,
      baseModelHash: state.hash,
      payloadHash: update.payloadHash,
      payload: update.payload,
    }),
  };
  payloadBytes += update.payload.byteLength;
  gathered.push({
    round: 0,
    address,
    peerId: address as never,
    ann,
    receivedAt: i,
    payloadHash: update.payloadHash,
    bytes: update.payload,
    update: update.tensors,
  });
}
const rssUpdates = peakRss();

const scorer = new Scorer(
  {
    runId: "bench",
    seqLen: config.seqLen,
    batchSize: t.batchSize,
    innerSteps: t.innerSteps,
    heldoutSamples: 16,
    ownSamples: 16,
    alpha: 1,
    evalLrFactor: 1,
    copyThreshold: 0.4,
  },
  { engine, dataset, specs, metrics: null },
);
const first = new Set(gathered.slice(0, Number(values.gather)).map((g) => g.address));
const rounds: { evaluated: number; scoreSeconds: number; perUpdateSeconds: number | null }[] = [];
for (let r = 0; r < Number(values.rounds); r++) {
  const t0 = performance.now();
  const used = gathered.filter((g) => first.has(g.address));
  nextModel(theta, new Map(used.map((g) => [g.address, g.update])), specs, sparse);
  const aggregateSeconds = (performance.now() - t0) / 1000;
  const stopAt = performance.now() / 1000 + budget - aggregateSeconds;
  const t1 = performance.now();
  const { verdicts, evaluated } = await scorer.score(
    state,
    { received: gathered, gathered, dropped: [] },
    sha256(new TextEncoder().encode(`round-${r}`)),
    new Map(),
    { first, secondsLeft: () => stopAt - performance.now() / 1000 },
  );
  const scoreSeconds = (performance.now() - t1) / 1000;
  const line = {
    bench: "validator.round",
    round: r,
    aggregateSeconds: Number(aggregateSeconds.toFixed(3)),
    scoreSeconds: Number(scoreSeconds.toFixed(2)),
    evaluated,
    notEvaluated: [...verdicts.values()].filter((v) => v.components.reason === "not_evaluated").length,
    perUpdateSeconds: evaluated > 0 ? Number((scoreSeconds / evaluated).toFixed(3)) : null,
    peakRssMiB: mib(peakRss()),
  };
  rounds.push(line);
  console.log(JSON.stringify(line));
}
const per = rounds.map((r) => r.perUpdateSeconds).filter((x): x is number => x !== null);
const perUpdate = per.length > 0 ? Math.min(...per) : Number.NaN;
console.log(
  JSON.stringify({
    bench: "validator",
    preset,
    params: specs.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0),
    backend: backend.backend,
    peers: N,
    gatherSet: first.size,
    windowSeconds,
    budgetSeconds: Number(budget.toFixed(2)),
    evaluatedPerRound: rounds.map((r) => r.evaluated),
    scoreSecondsPerRound: rounds.map((r) => r.scoreSeconds),
    perUpdateSeconds: perUpdate,
    allPeersSecondsEstimate: Number((perUpdate * N).toFixed(1)),
    payloadMiB: mib(payloadBytes),
    rssBeforeUpdatesMiB: mib(rssBase),
    rssWithUpdatesMiB: mib(rssUpdates),
    peakRssMiB: mib(peakRss()),
  }),
);
process.exit(0);
