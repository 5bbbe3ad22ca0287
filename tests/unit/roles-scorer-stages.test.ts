import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  DEFAULT_DATASET_DIR,
  type Dataset,
  heldoutSamples,
  loadDataset,
  makeBatches,
  prepareDataset,
} from "../../node/data/index.ts";
import { initBackend, initParams, modelPresets, paramSpecs } from "../../node/model/index.ts";
import { Scorer } from "../../node/roles/scorer.ts";
import type { StageSource } from "../../node/roles/stage-plan.ts";
import { modelHash } from "../../node/sparseloco/index.ts";
import { createEngine } from "../../node/train/index.ts";

/**
 * The validator's held-out loss per stage (issue 17, node/roles/scorer.ts `stageHeldOut`) with a real
 * nano engine on two real prepared datasets: Brown and the second bundled corpus (ethers-ts: TypeScript
 * sources), as a run's first and second data stage.
 */
describe("roles: held-out loss per stage", () => {
  const cfg = modelPresets.nano;
  const specs = paramSpecs(cfg);
  const opts = {
    runId: "stages",
    seqLen: 16,
    batchSize: 4,
    innerSteps: 2,
    heldoutSamples: 8,
    ownSamples: 2,
    alpha: 1,
    evalLrFactor: 1,
    copyThreshold: 0.4,
  };
  const params = initParams(cfg, "stages");
  const state = { round: 5, params, hash: modelHash(params, specs) };
  let engine: ReturnType<typeof createEngine>;
  const empty = { received: [], gathered: [], dropped: [] };
  let dir: string;
  let brown: Dataset;
  let other: Dataset;
  // The round's data as the StagePlan hands it: stage 1 (Brown) rules, stage 0 (ethers-ts) came before.
  const twoStages = (): StageSource => ({
    at: async (round) => ({
      round,
      stage: { index: 1, dataset: brown.manifestHash, startRound: 4, schedule: { kind: "continue" }, replay: 0 },
      dataset: brown,
      replay: undefined,
      stageDatasets: [other, brown],
    }),
  });
  const lossOn = (d: Dataset, seed: string): Promise<number> =>
    engine.evaluate(params, makeBatches(d.heldout, heldoutSamples(d, seed, 8, 16), 4, 16));

  before(async () => {
    await initBackend("wasm");
    engine = createEngine({ lr: () => 1e-3 }, { config: cfg });
    prepareDataset(DEFAULT_DATASET_DIR);
    brown = loadDataset(DEFAULT_DATASET_DIR);
    dir = mkdtempSync(join(tmpdir(), "cotrain-stages-"));
    prepareDataset(dir, { corpus: "ethers-ts" });
    other = loadDataset(dir);
    assert.notEqual(other.manifestHash, brown.manifestHash);
  });
  after(() => {
    engine.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reports θ_r's loss on every stage's held-out windows, in stage order; the current stage's is the score's", async () => {
    // stage 0 = ethers-ts, stage 1 = Brown (current: it feeds the score)
    const scorer = new Scorer(opts, { engine, dataset: brown, stages: twoStages(), specs, metrics: null });
    const { lossBefore, stageHeldOut } = await scorer.score(state, empty, "0xseed");
    assert.equal(lossBefore, await lossOn(brown, "0xseed"));
    assert.equal(stageHeldOut.length, 2);
    assert.equal(stageHeldOut[1], lossBefore);
    // the same window count and seed, on the other stage's held-out split
    assert.equal(stageHeldOut[0], await lossOn(other, "0xseed"));
    assert.notEqual(stageHeldOut[0], lossBefore);
    // a later round's seed draws other windows
    const later = await scorer.score(state, empty, "0xlater");
    assert.equal(later.stageHeldOut[0], await lossOn(other, "0xlater"));
    assert.notEqual(later.stageHeldOut[0], stageHeldOut[0]);
  });

  it("a run without stages: the list is the score's loss alone, nothing else evaluated", async () => {
    let calls = 0;
    const counting = {
      evaluate: (...a: Parameters<typeof engine.evaluate>) => {
        calls++;
        return engine.evaluate(...a);
      },
    };
    const scorer = new Scorer(opts, { engine: counting, dataset: brown, specs, metrics: null });
    const { lossBefore, stageHeldOut } = await scorer.score(state, empty, "0xseed");
    assert.deepEqual(stageHeldOut, [lossBefore]);
    assert.equal(calls, 1);
  });

  it("an earlier stage is left unmeasured (null) when the time budget cannot fit one more evaluation", async () => {
    const scorer = new Scorer(opts, { engine, dataset: brown, stages: twoStages(), specs, metrics: null });
    const { lossBefore, stageHeldOut } = await scorer.score(state, empty, "0xseed", new Map(), {
      secondsLeft: () => 0,
    });
    assert.deepEqual(stageHeldOut, [null, lossBefore]);
  });
});
