import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assignSamples, assignmentBatches, sampleDigest } from "../../node/data/index.ts";
import { ModelLine } from "../../node/roles/model-line.ts";
import { TimeBudget, roundToTrain, trainingWindow } from "../../node/roles/time-budget.ts";
import { RoundTrainer, isSkipped } from "../../node/roles/trainer.ts";
import type { TokenBatch, TrainCallOptions, TrainingEngine } from "../../node/train/index.ts";
import { SPECS, randomParams, stateOf, tinyDataset } from "../fixtures/roles.ts";

/**
 * The time budget of a peer's inner loop (node/roles/time-budget.ts, trainer.ts): steps run until the
 * cutoff (the window's close minus the measured compress + publish time), the samples used are a prefix
 * of the deterministic assignment, a round that cannot reach the minimum is skipped. The engine is a
 * fake whose steps take `stepSeconds` of a fake chain clock; everything else is the real code.
 */
describe("roles: time budget", () => {
  const dataset = tinyDataset();
  const base = stateOf(4, randomParams(1));
  /** θ_round already known when the round starts (the synchronous case). */
  const known = { get: () => base, wait: async () => base };
  const B = 2;
  const H = 20;

  /** `stepSeconds`: every step's time, or the time of the process's n-th step (n from 0). */
  function setup(stepSeconds: number | ((n: number) => number), minSteps = 2, warmupSteps = 0, maxStaleShare = 0.25) {
    const stepTime = typeof stepSeconds === "number" ? () => stepSeconds : stepSeconds;
    let stepsTaken = 0;
    const clock = { t: 0, now: () => clock.t };
    const calls: { batches: TokenBatch[]; H: number; opts: TrainCallOptions }[] = [];
    const engine: Pick<TrainingEngine, "train"> = {
      async train(params, batches, h, opts = {}) {
        calls.push({ batches: [...batches], H: h, opts });
        let steps = 0;
        let seconds = 0;
        for (let i = 0; i < h; i++) {
          if (i > 0 && opts.shouldStop?.(i)) break;
          const dt = stepTime(stepsTaken++);
          clock.t += dt;
          seconds += dt;
          steps++;
          opts.onStep?.(i, 1);
        }
        return {
          // each step adds 1 to every parameter, so where a round started and was rebased shows in θ_end
          params: new Map([...params].map(([k, v]) => [k, v.map((x) => x + steps)])),
          steps,
          losses: Array(steps).fill(1),
          gradNorms: [],
          tokens: steps * B * 8,
          seconds,
        };
      },
    };
    const hooked: number[] = [];
    const budget = new TimeBudget({
      minSteps,
      marginSeconds: 0.25,
      overheadFactor: 1.5,
      stepSlack: 0,
      warmupSteps,
      maxStaleShare,
    });
    const trainer = new RoundTrainer(
      { runId: "test", innerSteps: H, batchSize: B, seqLen: 8 },
      {
        address: `0x${"ab".repeat(20)}`,
        engine,
        specs: SPECS,
        dataset,
        clock,
        budget,
        innerStep: (i) => {
          hooked.push(i);
        },
        metrics: null,
      },
    );
    return { clock, calls, trainer, hooked, budget };
  }

  it("a stop ends the round after the step in flight, not after the rest of H", async () => {
    const { trainer, hooked } = setup(1);
    const stop = new AbortController();
    hooked.push = (...i: number[]) => {
      if (i[0] === 2) stop.abort(); // SIGINT during the third step
      return Array.prototype.push.apply(hooked, i);
    };
    const out = await trainer.train(4, base.params, known, 1000, stop.signal);
    assert.ok(!isSkipped(out));
    assert.equal(out.result.steps, 3, "the step in flight finished; none after it");
  });

  it("trains until the next step would pass the cutoff; the samples are the assignment's prefix", async () => {
    const { calls, trainer, hooked } = setup(1);
    const out = await trainer.train(4, base.params, known, 10); // cutoff 10 − 0.25
    assert.ok(!isSkipped(out));
    assert.equal(out.result.steps, 9, "steps end at t = 9; a 10th would end at 10 > 9.75");
    assert.equal(out.samples, 9 * B);
    assert.deepEqual(hooked, [0, 1, 2, 3, 4, 5, 6, 7, 8], "the hook runs inside every step");
    // The validator's reproduction: the first `samples` of the same stream, and their digest.
    const again = assignSamples(
      { runId: "test", round: 4, address: `0x${"ab".repeat(20)}`, count: out.samples, seqLen: 8, batchSize: B },
      dataset,
    );
    assert.deepEqual(out.assignment.samples, again.samples);
    assert.equal(out.assignment.dataDigest, sampleDigest(again.samples));
    assert.deepEqual(
      calls[0].batches.slice(0, 9),
      assignmentBatches(again, dataset, B, 8),
      "the steps took those samples in order",
    );
    assert.equal(calls[0].H, H, "at most H steps");
    assert.equal(calls[0].opts.stepOffset, 4 * H, "lr of (round 4, step i) is the schedule at 4·H + i");
    assert.ok(out.utilization >= 0 && out.utilization <= 1);
  });

  it("leaves room for the measured compress + publish time and stops at H", async () => {
    const { clock, trainer } = setup(1);
    trainer.published(2); // cutoff = 10 − 1.5·2 − 0.25
    const out = await trainer.train(4, base.params, known, 10);
    assert.ok(!isSkipped(out));
    assert.equal(out.result.steps, 6);
    clock.t = 0;
    const long = await trainer.train(5, base.params, known, 1000);
    assert.ok(!isSkipped(long));
    assert.equal(long.result.steps, H);
  });

  it("skips a round whose minimum cannot fit: before training when the pace is known, else after", async () => {
    const { clock, calls, trainer } = setup(4, 2);
    const first = await trainer.train(4, base.params, known, 6); // pace unknown: tries; one step (t = 4), a 2nd would end at 8
    assert.ok(isSkipped(first));
    assert.deepEqual([first.skipped, first.steps], ["below_min_steps", 1]);
    clock.t = 0;
    const second = await trainer.train(5, base.params, known, 6); // 2 steps × 4 s do not fit in 5.75 s: not even tried
    assert.ok(isSkipped(second));
    assert.equal(second.skipped, "no_time");
    assert.equal(calls.length, 1);
    clock.t = 6;
    const late = await trainer.train(6, base.params, known, 6);
    assert.ok(isSkipped(late) && late.skipped === "no_time");
  });

  it("starts from where the last round ended and moves onto θ_r when it arrives, keeping the steps' progress", async () => {
    const { clock, calls, trainer, hooked } = setup(1);
    const start = new Map([...base.params].map(([k, v]) => [k, v.map(() => 0)]));
    const arriving = { get: () => (clock.t >= 3 ? base : undefined), wait: async () => base };
    const out = await trainer.train(4, start, arriving, 10);
    assert.ok(!isSkipped(out));
    assert.equal(out.staleSteps, 3, "three steps before θ_r was known");
    assert.equal(out.result.steps, 9);
    assert.equal(out.base, base);
    const name = SPECS[0].name;
    assert.ok(Math.abs(out.result.params.get(name)![0] - (base.params.get(name)![0] + 9)) < 1e-5, "θ_r + all 9 steps");
    assert.deepEqual(
      calls.map((c) => [c.H, c.opts.stepOffset, c.batches.length]),
      [
        [H, 4 * H, H],
        [H - 3, 4 * H + 3, H - 3],
      ],
      "the second part continues the step count, the lr schedule and the sample stream",
    );
    assert.deepEqual(hooked, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(out.samples, 9 * B);
  });

  it("stops at the stale-step cap and waits for θ_r, then trains on; skips the round when θ_r does not come", async () => {
    const { trainer, calls } = setup(1);
    const start = base.params;
    const late = { get: () => undefined, wait: async () => base };
    const out = await trainer.train(4, start, late, 10);
    // no pace measured yet: a quarter of H = 20 may run before θ_r is known; then 4 more fit before 9.75
    assert.ok(!isSkipped(out) && out.base === base);
    assert.equal(out.staleSteps, 5);
    assert.equal(out.result.steps, 9);
    assert.deepEqual(
      calls.map((c) => c.opts.stepOffset),
      [4 * H, 4 * H + 5],
    );
    const { trainer: t2 } = setup(1);
    const never = { get: () => undefined, wait: async () => null };
    const skipped = await t2.train(4, start, never, 10);
    assert.ok(isSkipped(skipped) && skipped.skipped === "no_base");
  });

  it("caps the stale steps at a quarter of the steps that fit at the measured pace; none when fewer than 4 fit", async () => {
    const start = new Map([...base.params].map(([k, v]) => [k, v.map(() => 0)]));
    const late = { get: () => undefined, wait: async () => base };
    const name = SPECS[0].name;
    const a = setup(1);
    a.budget.recordSteps([1, 1]);
    const out = await a.trainer.train(4, start, late, 10); // 9 steps fit before 9.75: 2 stale
    assert.ok(!isSkipped(out));
    assert.equal(out.staleSteps, 2);
    assert.equal(out.result.steps, 9);
    assert.ok(Math.abs(out.result.params.get(name)![0] - (base.params.get(name)![0] + 9)) < 1e-5, "θ_r + all 9 steps");
    const b = setup(1);
    b.budget.recordSteps([1, 1]);
    const few = await b.trainer.train(4, start, late, 3.5); // 3 steps fit: nothing before θ_r
    assert.ok(!isSkipped(few));
    assert.equal(few.staleSteps, 0);
    assert.equal(few.result.steps, 3);
    assert.equal(b.calls.length, 1, "one engine call, from θ_r");
    assert.ok(Math.abs(few.result.params.get(name)![0] - (base.params.get(name)![0] + 3)) < 1e-5);
    const all = setup(1, 2, 0, 1);
    all.budget.recordSteps([1, 1]);
    const uncapped = await all.trainer.train(4, start, late, 10);
    assert.ok(!isSkipped(uncapped) && uncapped.staleSteps === 9, "share 1: the whole round may run stale");
  });

  it("leaves the warm-up step out of the pace: one slow first step does not skip the rounds after it", async () => {
    // the process's first step compiles the kernels: 20 s, then 1 s per step
    const { clock, trainer, budget } = setup((n) => (n === 0 ? 20 : 1), 2, 1);
    const first = await trainer.train(0, base.params, known, 30); // cutoff 29.75
    assert.ok(
      isSkipped(first) && first.skipped === "below_min_steps" && first.steps === 1,
      "a 2nd step at the warm-up's pace would end at 40",
    );
    assert.equal(budget.pace, null, "the warm-up step measured no pace");
    clock.t = 30;
    const next = await trainer.train(1, base.params, known, 40);
    assert.ok(!isSkipped(next), "the next round trains (its minimum looked out of reach at 20 s a step)");
    assert.equal(next.result.steps, 9);
    assert.equal(budget.pace, 1);
  });

  it("a skip for lack of time halves the pace estimate, so one slow round does not skip every round after it", async () => {
    let slow = true;
    const { clock, calls, trainer, budget } = setup(() => (slow ? 8 : 1), 2);
    await trainer.train(0, base.params, known, 100); // the box was loaded: 8 s steps
    assert.equal(budget.pace, 8);
    slow = false;
    const skipped: string[] = [];
    for (let r = 1; r <= 4; r++) {
      clock.t = 100 * r;
      const out = await trainer.train(r, base.params, known, 100 * r + 10);
      if (isSkipped(out)) skipped.push(out.skipped);
      else {
        assert.equal(out.result.steps, 9);
        break;
      }
    }
    assert.deepEqual(skipped, ["no_time"], "8 s: 2 steps do not fit 9.75 s; halved to 4 s they do");
    assert.equal(calls.length, 2);
    assert.ok(budget.pace !== null && budget.pace < 4);
  });

  it("the training window runs from the previous round's start to the deadline; a peer trains the round whose deadline is next", () => {
    const clock = {
      roundStart: (r: number) => 100 + 30 * r,
      roundAt: (t: number) => (t < 100 ? -1 : Math.floor((t - 100) / 30)),
      submissionDeadline: (r: number) => 100 + 30 * (r + 1) + 6,
    };
    assert.deepEqual(trainingWindow(clock, 2), { opens: 130, closes: 196 }, "one round ahead of the chain at most");
    assert.deepEqual(trainingWindow(clock, 0), { opens: 100, closes: 136 }, "round 0 opens at genesis");
    assert.equal(roundToTrain(clock, 163), 1, "before round 1's deadline");
    assert.equal(roundToTrain(clock, 166), 2);
    assert.equal(roundToTrain(clock, 99), -1);
    assert.equal(roundToTrain(clock, 101), 0);
  });
});

describe("roles: model line", () => {
  const never = () => false;

  it("hands the training loop the base it waits for as soon as the model loop puts it", async () => {
    const line = new ModelLine();
    line.put(stateOf(3, randomParams(1)));
    const signal = new AbortController().signal;
    assert.equal((await line.waitFor(3, never, signal))?.round, 3);
    const waiting = line.waitFor(4, never, signal);
    setTimeout(() => line.put(stateOf(4, randomParams(2))), 20);
    assert.equal((await waiting)?.round, 4);
    assert.equal((await line.waitFor(3, never, signal))?.round, 3, "keeps θ_{r−1} next to θ_r");
  });

  it("gives up when the line moved past the round, when told to, or when stopped", async () => {
    const line = new ModelLine();
    line.put(stateOf(3, randomParams(1)));
    line.put(stateOf(6, randomParams(2))); // a catch-up jumped from 3 to 6
    const ctl = new AbortController();
    assert.equal(await line.waitFor(4, never, ctl.signal), null);
    assert.equal(line.newest().round, 6);
    let late = false;
    setTimeout(() => {
      late = true;
    }, 30);
    assert.equal(await line.waitFor(7, () => late, ctl.signal), null);
    setTimeout(() => ctl.abort(), 30);
    assert.equal(await line.waitFor(7, never, ctl.signal), null);
  });
});
