import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type Dataset,
  DEFAULT_DATASET_DIR,
  assignSamples,
  assignmentBatches,
  loadDataset,
  prepareDataset,
} from "../../node/data/index.ts";
import { initBackend, initParams, modelPresets } from "../../node/model/index.ts";
import {
  type TokenBatch,
  TrainError,
  type TrainingEngine,
  createEngine,
  defaultEngineOptions,
  openEngine,
  warmupCosine,
} from "../../node/train/index.ts";

/**
 * The tfjs engine on a worker thread (node/train/worker-engine.ts), which the roles use so that a node's
 * networking runs while it trains: same numbers as the engine on the main thread, the caller's
 * shouldStop and onStep honoured across the thread boundary, and the main event loop free meanwhile.
 */
const cfg = modelPresets.nano;
const lr = warmupCosine({ peakLr: 3e-3, warmupSteps: 4, totalSteps: 100, minRatio: 0.1 });
let ds: Dataset;
let worker: TrainingEngine;
let batches: TokenBatch[];

before(async () => {
  await initBackend("wasm");
  prepareDataset(DEFAULT_DATASET_DIR);
  ds = loadDataset(DEFAULT_DATASET_DIR);
  const a = assignSamples(
    { runId: "worker-test", round: 0, address: `0x${"aa".repeat(20)}`, count: 6 * 4, batchSize: 4, seqLen: 32 },
    ds,
  );
  batches = assignmentBatches(a, ds, 4, 32);
  ({ engine: worker } = await openEngine({ backend: "wasm", lr, thread: "worker" }, { config: cfg }));
});
after(() => worker?.dispose());

describe("training engine on a worker thread", () => {
  it("with optimizer muon, computes what the main-thread engine computes (both lr schedules sent per step)", async () => {
    const muonLr = warmupCosine({ peakLr: 0.02, warmupSteps: 2, totalSteps: 100, minRatio: 0.1 });
    const options = {
      lr,
      optimizer: "muon" as const,
      muon: { ...defaultEngineOptions.muon, lr: muonLr, momentum: 0.9 },
    };
    const main = createEngine(options, { config: cfg });
    const { engine: w } = await openEngine({ backend: "wasm", thread: "worker", ...options }, { config: cfg });
    try {
      const p0 = initParams(cfg, "worker-muon");
      const a = await main.train(p0, batches, 4, { stepOffset: 1 });
      const b = await w.train(p0, batches, 4, { stepOffset: 1 });
      assert.deepEqual(b.losses, a.losses);
      for (const [name, v] of a.params) assert.deepEqual(b.params.get(name), v, name);
      const plain = await worker.train(p0, batches, 4, { stepOffset: 1 });
      assert.notDeepEqual(plain.losses, b.losses, "muon changed the trajectory");
      worker.resetOptimizerState();
    } finally {
      main.dispose();
      w.dispose();
    }
  });

  it("computes what the main-thread engine computes (lr schedule at stepOffset + i included)", async () => {
    const main = createEngine({ lr }, { config: cfg });
    try {
      const p0 = initParams(cfg, "worker");
      const a = await main.train(p0, batches, 6, { stepOffset: 3 });
      const b = await worker.train(p0, batches, 6, { stepOffset: 3 });
      assert.deepEqual(b.losses, a.losses);
      assert.equal(b.steps, 6);
      for (const [name, v] of a.params) assert.deepEqual(b.params.get(name), v, name);
      assert.equal(await worker.evaluate(b.params, batches), await main.evaluate(a.params, batches));
      worker.resetOptimizerState();
    } finally {
      main.dispose();
    }
  });

  it("asks shouldStop before each step, waits for onStep's promise, and leaves the event loop free", async () => {
    const asked: number[] = [];
    const stepped: number[] = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    try {
      const t0 = performance.now();
      const r = await worker.train(initParams(cfg, "w2"), batches, 6, {
        shouldStop: (done) => {
          asked.push(done);
          return done >= 4;
        },
        onStep: (i) => {
          stepped.push(i);
          return new Promise((resolve) => setTimeout(resolve, 60));
        },
      });
      const wall = (performance.now() - t0) / 1000;
      assert.equal(r.steps, 4);
      assert.deepEqual(asked, [1, 2, 3, 4]);
      assert.deepEqual(stepped, [0, 1, 2, 3]);
      assert.ok(r.seconds >= 4 * 0.06, `the hooks' time counts as step time: ${r.seconds}`);
      assert.ok(wall >= 4 * 0.06);
      assert.ok(ticks >= 10, `the main thread ran timers while the worker trained (${ticks} ticks)`);
    } finally {
      clearInterval(timer);
      worker.resetOptimizerState();
    }
  });

  it("errors cross the thread as typed TrainErrors; a disposed engine refuses work", async () => {
    const bad = [{ ...batches[0], seqLen: 1000 }];
    await assert.rejects(
      worker.train(initParams(cfg, "w3"), bad, 1),
      (e) => e instanceof TrainError && e.code === "BAD_BATCH",
    );
    const { engine } = await openEngine({ backend: "wasm", lr, thread: "worker" }, { config: cfg });
    engine.dispose();
    await assert.rejects(
      engine.train(initParams(cfg, "w3"), batches, 1),
      (e) => e instanceof TrainError && e.code === "DISPOSED",
    );
  });
});
