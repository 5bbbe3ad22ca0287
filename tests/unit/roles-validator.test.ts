import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Checkpointer } from "../../node/roles/checkpointer.ts";
import { ScoreBook } from "../../node/roles/score-book.ts";
import type { ValidatorServices } from "../../node/roles/services.ts";
import type { Heartbeat } from "../../node/roles/status.ts";
import type { RoundSubmission, ValidatorChain } from "../../node/roles/validator-chain.ts";
import { runValidator } from "../../node/roles/validator.ts";
import type { Scorer } from "../../node/roles/scorer.ts";
import type { StageSource } from "../../node/roles/stage-plan.ts";
import { decodeChainComponents, decodeStageHeldOut } from "../../node/scoring/index.ts";
import {
  distanceEngine,
  keeperFixture,
  randomParams,
  silent,
  stateOf,
  testPeers,
  testScorer,
  tinyDataset,
  updateFrom,
} from "../fixtures/roles.ts";

/**
 * runValidator (node/roles/validator.ts) for one round with a slow engine (each loss evaluation takes
 * 100 ms) and a scoring window too short to evaluate all six updates: it must still submit, inside the
 * window, a row for every registered peer — the evaluated ones "ok", the rest "not_evaluated" — and a
 * model hash equal to the outer step of the whole gather set.
 */
describe("roles: the validator under a time budget", () => {
  /** One validator round over six peers' updates; each loss evaluation takes `delayMs`. */
  async function oneRound(
    scorerOf: (engine: ReturnType<typeof distanceEngine>) => Scorer,
    delayMs: number,
    windowSeconds = 2.5,
  ) {
    const [v, ...peers] = testPeers(7);
    const target = randomParams(99);
    const theta0 = randomParams(1);
    const fx = await keeperFixture(peers, v, theta0);
    try {
      const s0 = stateOf(0, theta0);
      for (const [i, p] of peers.entries())
        fx.p2p.announce(p, 0, s0.hash, updateFrom(theta0, i + 1, { target, part: i, of: peers.length }).payload);

      const t0 = Date.now() / 1000;
      const deadline = t0 + 0.3;
      const closesAt = deadline + windowSeconds;
      const txMargin = 0.5;
      const clock = {
        now: () => Date.now() / 1000,
        currentRound: () => 0,
        roundAt: () => 0,
        roundStart: () => t0 - 10,
        submissionDeadline: () => deadline,
        scoringWindow: () => ({ opensAt: deadline, closesAt }),
      };
      const engine = distanceEngine(target, delayMs);
      const stop = new AbortController();
      const submitted: { s: RoundSubmission; at: number }[] = [];
      const chainWriter = {
        heldoutSeed: async () => "seed",
        submitBy: () => closesAt - txMargin,
        async submitAndFinalize(s: RoundSubmission) {
          submitted.push({ s, at: clock.now() });
          stop.abort();
          return true;
        },
      };
      const services: ValidatorServices = {
        logger: silent,
        clock,
        options: { gatherGraceMs: 0, retryDelayMs: 10 },
        state: fx.state,
        keeper: fx.keeper,
        heartbeat: { start: () => ({ stop() {} }) } as unknown as Heartbeat,
        stake: async () => {},
        peers: fx.registry,
        scorer: scorerOf(engine),
        scores: new ScoreBook({ ratings: { all: async () => new Map(), commitRound: async () => {} } }),
        chainWriter: chainWriter as unknown as ValidatorChain,
        checkpointer: { maybeCheckpoint: async () => {} } as unknown as Checkpointer,
        earlierPayloads: () => new Map(),
      };
      await runValidator(services, stop.signal);
      const step = fx.keeper.step(s0, await fx.keeper.forStep(s0, (await fx.keeper.gatherAll(0)).gathered));
      return {
        submitted,
        peers,
        deadline,
        closesAt,
        txMargin,
        next: step.next,
        lossBefore: await engine.evaluate(theta0, []),
      };
    } finally {
      await fx.close();
    }
  }

  it("always submits before the window closes, with what it could score", async () => {
    const { submitted, peers, deadline, closesAt, txMargin, next } = await oneRound((e) => testScorer(e), 100);
    assert.equal(submitted.length, 1, "one submission");
    const { s, at } = submitted[0];
    assert.ok(at < closesAt - txMargin, `submitted at ${(at - deadline).toFixed(2)} s, window ends at 2.5 s`);
    assert.equal(s.scores.length, peers.length, "a score for every registered peer");
    const reasons = s.components.map((c) => decodeChainComponents(c).reason);
    for (const r of reasons) assert.ok(r === "ok" || r === "not_evaluated", r);
    assert.ok(reasons.includes("not_evaluated"), `six updates need ≥ 1.9 s of evaluation: ${reasons}`);
    for (const [i, r] of reasons.entries()) assert.equal(s.scores[i] > 0, r === "ok");
    assert.equal(s.payloads.length, peers.length, "θ_1 aggregates the whole gather set, scored or not");
    assert.equal(s.modelHash, next.hash);
    // one stage: no per-round values, the submission's bytes are as before issue 17
    assert.deepEqual(s.roundComponents, []);
  });

  it("submits θ_r's held-out loss per stage once per round when two stages are in effect", async () => {
    const [first, current] = [tinyDataset(3), tinyDataset(7)];
    const stages: StageSource = {
      at: async (round) => ({
        round,
        stage: { index: 1, dataset: current.manifestHash, startRound: 0, schedule: { kind: "continue" }, replay: 0 },
        dataset: current,
        replay: undefined,
        stageDatasets: [{ ...first, manifestHash: "1".repeat(64) }, current],
      }),
    };
    // a window long enough for everything even on a loaded box: this is about what is sent
    const { submitted, lossBefore } = await oneRound((e) => testScorer(e, stages), 0, 60);
    const { s } = submitted[0];
    // the distance engine's loss does not depend on the text: both stages measure θ_0's distance
    assert.deepEqual(decodeStageHeldOut(s.roundComponents ?? []), [
      Math.round(lossBefore * 1000) / 1000,
      Math.round(lossBefore * 1000) / 1000,
    ]);
    assert.equal(decodeChainComponents(s.components[0]).heldOutLossBefore, Math.round(lossBefore * 1000) / 1000);
  });
});
