import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assignSamples } from "../../node/data/index.ts";
import { ModelLine } from "../../node/roles/model-line.ts";
import type { CompressedRound } from "../../node/roles/publisher.ts";
import { sleep } from "../../node/roles/timing.ts";
import type { RoundBase, SkippedRound, TrainedRound } from "../../node/roles/trainer.ts";
import { type TrainingLoopDependencies, runTrainingLoop } from "../../node/roles/training-loop.ts";
import type { ParamMap } from "../../node/sparseloco/index.ts";
import { randomParams, silent, stateOf, tinyDataset, updateFrom } from "../fixtures/roles.ts";

/**
 * The peer's training loop (node/roles/training-loop.ts) on a real-time clock with 1 s rounds: round r+1
 * starts on the engine the moment round r's inner loop ends — before round r+1 opens, never more than
 * one round ahead of the chain — and round r's update is compressed and announced while r+1 trains.
 * The trainer and publisher are fakes that record when they are called; everything else is the real loop.
 */
describe("roles: training loop", () => {
  const T = 1;
  const S = 0.3;
  const theta = randomParams(1);
  const dataset = tinyDataset();

  function setup(opts: { trainEnds: (round: number, closes: number) => number; failPublish?: number }) {
    const t0 = performance.now();
    const G = 0.2; // genesis, chain seconds after the test starts
    const clock = {
      now: () => (performance.now() - t0) / 1000,
      roundAt: (t: number) => (t < G ? -1 : Math.floor((t - G) / T)),
      roundStart: (r: number) => G + r * T,
      submissionDeadline: (r: number) => G + (r + 1) * T + S,
    };
    const events: { what: "train" | "trained" | "compress" | "publish"; round: number; at: number }[] = [];
    const log = (what: (typeof events)[number]["what"], round: number) => events.push({ what, round, at: clock.now() });
    const trained = (round: number, start: ParamMap): TrainedRound => {
      const assignment = assignSamples(
        { runId: "test", round, address: `0x${"ab".repeat(20)}`, count: 4, seqLen: 8, batchSize: 2 },
        dataset,
      );
      return {
        round,
        base: stateOf(round, theta),
        assignment,
        samples: 4,
        stage: { index: 0, dataset: dataset.manifestHash },
        result: { params: start, steps: 2, losses: [2, 1], gradNorms: [1, 1], tokens: 32, seconds: 0.5 },
        staleSteps: 0,
        tokensPerS: 64,
        wallSeconds: 0.5,
        utilization: 1,
        endedAt: performance.now(),
      };
    };
    const deps: TrainingLoopDependencies = {
      logger: silent,
      clock,
      options: { retryDelayMs: 50 },
      state: { publishedIn: async () => null },
      trainer: {
        async train(round: number, start: ParamMap, _base: RoundBase, closes: number) {
          log("train", round);
          const ends = opts.trainEnds(round, closes);
          await sleep(Math.max(0, (ends - clock.now()) * 1000));
          log("trained", round);
          return trained(round, start) as TrainedRound | SkippedRound;
        },
        published() {},
      },
      publisher: {
        compress(t: TrainedRound): CompressedRound {
          log("compress", t.round);
          return { update: updateFrom(theta, t.round), errorFeedback: new Map(), seconds: 0 };
        },
        async publish(t: TrainedRound) {
          await sleep(20);
          if (t.round === opts.failPublish) throw new Error("disk full");
          log("publish", t.round);
          return 0.02;
        },
      },
    };
    const line = new ModelLine();
    line.put(stateOf(0, theta));
    return { clock, events, deps, line };
  }

  async function runUntil(
    fx: ReturnType<typeof setup>,
    done: (events: ReturnType<typeof setup>["events"]) => boolean,
  ): Promise<void> {
    const ctl = new AbortController();
    const loop = runTrainingLoop(fx.deps, fx.line, ctl.signal, () => {});
    while (!done(fx.events)) await sleep(20);
    ctl.abort();
    await loop;
  }

  const rounds = (events: ReturnType<typeof setup>["events"], what: string) =>
    events.filter((e) => e.what === what).map((e) => e.round);

  it("starts round r+1 when round r's inner loop ends, before r+1 opens, and announces r while r+1 trains", async () => {
    // each round's inner loop ends 0.6 s before its deadline: 0.3 s before the next round opens
    const fx = setup({ trainEnds: (_r, closes) => closes - 0.6 });
    await runUntil(fx, (ev) => ev.some((e) => e.what === "trained" && e.round === 3));
    const at = (what: string, round: number) => fx.events.find((e) => e.what === what && e.round === round)?.at;
    for (const r of [1, 2, 3]) {
      const started = at("train", r)!;
      assert.ok(started - at("trained", r - 1)! < 0.25, `round ${r} starts as round ${r - 1} ends`);
      assert.ok(started < fx.clock.roundStart(r), `round ${r} starts before it opens (no wait for its window)`);
      assert.ok(started >= fx.clock.roundStart(r - 1), "never more than one round ahead of the chain");
      const order = fx.events.map((e) => `${e.what}${e.round}`);
      assert.ok(
        order.indexOf(`train${r}`) < order.indexOf(`compress${r - 1}`),
        `round ${r - 1} compressed after ${r} started`,
      );
      assert.ok(at("publish", r - 1)! < at("trained", r)!, `round ${r - 1} announced while ${r} trains`);
      assert.ok(at("publish", r - 1)! < fx.clock.submissionDeadline(r - 1), "and before its deadline");
    }
    assert.deepEqual(
      rounds(fx.events, "publish"),
      rounds(fx.events, "trained"),
      "every round trained is announced once, in order; the last one trained before the stop as well",
    );
  });

  it("a peer that finishes early waits for the round before the one it trains to open", async () => {
    const fx = setup({ trainEnds: () => 0 }); // a fast accelerator: every round's inner loop ends at once
    await runUntil(fx, (ev) => ev.some((e) => e.what === "trained" && e.round === 3));
    for (const e of fx.events.filter((x) => x.what === "train")) {
      assert.ok(
        e.at >= fx.clock.roundStart(Math.max(e.round - 1, 0)) - 0.01,
        `round ${e.round} waits for round ${e.round - 1}`,
      );
      assert.ok(e.round <= fx.clock.roundAt(e.at) + 1, "at most one round ahead of the chain's current round");
    }
    assert.deepEqual(rounds(fx.events, "publish"), rounds(fx.events, "trained"));
  });

  it("a failed announcement loses that round's update only; the next round trains and goes out", async () => {
    const fx = setup({ trainEnds: (_r, closes) => closes - 0.4, failPublish: 1 });
    await runUntil(fx, (ev) => ev.some((e) => e.what === "publish" && e.round === 2));
    assert.deepEqual(
      rounds(fx.events, "publish"),
      rounds(fx.events, "trained").filter((r) => r !== 1),
    );
    assert.equal(fx.events.filter((e) => e.what === "train" && e.round === 2).length, 1, "round 2 trained once");
  });
});
