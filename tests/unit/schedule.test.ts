import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { outerLrSchedule } from "../../node/sparseloco/outer-lr.ts";
import { infiniteSchedule, stagedSchedule, warmupCosine } from "../../node/train/schedules.ts";

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) <= 1e-15 * Math.max(1, Math.abs(b)), `${a} != ${b}`);

describe("warmupCosine", () => {
  const f = warmupCosine({ peakLr: 1e-3, warmupSteps: 10, totalSteps: 110, minRatio: 0.1 });
  it("warms up linearly to the peak", () => {
    assert.equal(f(0), 1e-4);
    close(f(4), 5e-4);
    assert.equal(f(9), 1e-3);
  });
  it("decays by a cosine to minRatio*peak and stays there", () => {
    assert.equal(f(10), 1e-3); // cos(0) = 1
    close(f(60), 1e-3 * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI / 2)))); // halfway: 0.55e-3
    close(f(60), 0.55e-3);
    close(f(35), 1e-3 * (0.1 + 0.9 * 0.5 * (1 + Math.SQRT1_2)));
    close(f(110), 1e-4);
    close(f(10_000), 1e-4);
  });
  it("rejects bad steps", () => {
    assert.throws(() => f(-1), RangeError);
    assert.throws(() => f(1.5), RangeError);
  });
});

describe("stagedSchedule", () => {
  const f = stagedSchedule([
    { startStep: 0, peakLr: 1e-3, warmupSteps: 10, totalSteps: 110, minRatio: 0.1 },
    { startStep: 200, peakLr: 5e-4, warmupSteps: 20, totalSteps: 120, minRatio: 0 },
  ]);
  it("follows stage 1, then re-warms and re-decays from stage 2's start", () => {
    close(f(199), 1e-4);
    assert.equal(f(200), 5e-4 / 20); // re-warm from the bottom
    assert.equal(f(219), 5e-4);
    close(f(270), 2.5e-4); // halfway through stage 2's cosine
    assert.equal(f(320), 0);
  });
  it("requires ordered stages starting at 0", () => {
    assert.throws(
      () => stagedSchedule([{ startStep: 5, peakLr: 1, warmupSteps: 1, totalSteps: 2, minRatio: 0 }]),
      RangeError,
    );
  });
});

describe("infiniteSchedule", () => {
  const f = infiniteSchedule({
    peakLr: 1e-3,
    warmupSteps: 10,
    cooldownSteps: 100,
    constantRatio: 0.5,
    annealStart: 1000,
    annealSteps: 100,
    minRatio: 0,
  });
  it("warmup, cosine cooldown, constant, linear anneal", () => {
    assert.equal(f(0), 1e-4);
    assert.equal(f(9), 1e-3);
    assert.equal(f(10), 1e-3);
    close(f(60), 0.75e-3); // cooldown midpoint between peak and constant
    assert.equal(f(110), 0.5e-3);
    assert.equal(f(999), 0.5e-3);
    assert.equal(f(1000), 0.5e-3);
    close(f(1050), 0.25e-3);
    assert.equal(f(1100), 0);
    assert.equal(f(5000), 0);
  });
  it("without an anneal it stays constant forever", () => {
    const g = infiniteSchedule({
      peakLr: 1,
      warmupSteps: 1,
      cooldownSteps: 1,
      constantRatio: 0.25,
      annealStart: Number.POSITIVE_INFINITY,
      annealSteps: 0,
      minRatio: 0,
    });
    assert.equal(g(1_000_000_000), 0.25);
  });
});

describe("outerLrSchedule (SparseLoCo's α per round)", () => {
  it("constant ignores alphaEnd; linear and cosine move alpha -> alphaEnd over decayRounds, then hold", () => {
    const c = outerLrSchedule({ alpha: 1, shape: "constant", alphaEnd: 0.4, decayRounds: 10 });
    assert.equal(c(0), 1);
    assert.equal(c(1000), 1);
    const l = outerLrSchedule({ alpha: 1, shape: "linear", alphaEnd: 0.4, decayRounds: 10 });
    assert.equal(l(0), 1);
    close(l(5), 0.7);
    close(l(10), 0.4);
    close(l(50), 0.4);
    const k = outerLrSchedule({ alpha: 2, shape: "cosine", alphaEnd: 1, decayRounds: 4 });
    assert.equal(k(0), 2);
    close(k(2), 1.5);
    assert.equal(k(4), 1);
  });
  it("rejects bad rounds and bad parameters", () => {
    const l = outerLrSchedule({ alpha: 1, shape: "linear", alphaEnd: 0.4, decayRounds: 10 });
    assert.throws(() => l(-1), RangeError);
    assert.throws(() => l(0.5), RangeError);
    assert.throws(
      () => outerLrSchedule({ alpha: 0, shape: "linear", alphaEnd: 0.4, decayRounds: 10 }),
      /^RangeError: outer lr alpha:/,
    );
    assert.throws(
      () => outerLrSchedule({ alpha: 1, shape: "step" as never, alphaEnd: 0.4, decayRounds: 10 }),
      /^RangeError: outer lr shape:/,
    );
  });
});
