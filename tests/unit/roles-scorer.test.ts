import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assignSamples, assignmentBatches } from "../../node/data/index.ts";
import { parseHash32, sha256 } from "../../node/hash/index.ts";
import { buildAnnouncement } from "../../node/roles/announcement.ts";
import type { Dropped, Gathered } from "../../node/roles/inbox.ts";
import { ScoreBook } from "../../node/roles/score-book.ts";
import { Scorer } from "../../node/roles/scorer.ts";
import { type PeerRating, decodeChainComponents } from "../../node/scoring/index.ts";
import { type ModelUpdate, type ParamMap, encodeUpdate } from "../../node/sparseloco/index.ts";
import type { TokenBatch } from "../../node/train/index.ts";
import {
  SPECS,
  distanceEngine,
  randomParams,
  stateOf,
  testPeers,
  testScorer,
  tinyDataset,
  updateFrom,
} from "../fixtures/roles.ts";

/**
 * The validator's Scorer (node/roles/scorer.ts) on sparse updates, with an engine whose "loss" is the
 * squared distance to a target model: an update toward the target gains, a copy, a replay, an outlier
 * norm, a wrong base and a missing or undecodable update score as DESIGN step 6 says.
 */
describe("roles: scoring", () => {
  const target = randomParams(99);
  const theta = randomParams(1);
  const state = stateOf(3, theta);
  const engine = distanceEngine(target);
  let evaluations = 0;
  const counting = {
    async evaluate(params: ParamMap): Promise<number> {
      evaluations++;
      return engine.evaluate(params, []);
    },
    async evaluateEach(params: ParamMap, batches: readonly TokenBatch[]): Promise<number[]> {
      evaluations++;
      return engine.evaluateEach(params, batches);
    },
  };
  const scorer = testScorer(counting);
  const [good1, good2, good3, copier, loud, stale, noisy, late, broken, absent, replayer] = testPeers(11);
  let clock = 0;
  const gathered = (p: typeof good1, u: ModelUpdate, base = state.hash): Gathered => {
    const { payload, payloadHash } = u;
    const ann = {
      runId: "test",
      multiaddrs: [],
      ...buildAnnouncement({ round: 3, baseModelHash: base, payloadHash, payload }),
    };
    return { round: 3, ...p, ann, receivedAt: clock++, payloadHash, bytes: payload, update: u.tensors };
  };

  it("scores every received update; only honest, in-sync, original updates with a gain earn", async () => {
    const g1 = updateFrom(theta, 1, { target, part: 0, of: 3 });
    const g2 = updateFrom(theta, 2, { target, part: 1, of: 3 });
    const g3 = updateFrom(theta, 3, { target, part: 2, of: 3 });
    const big = new Map([...g3.tensors].map(([k, t]) => [k, { ...t, table: t.table.map((x) => x * 1000) }]));
    const bigUpdate: ModelUpdate = { tensors: big, payload: encodeUpdate(big), payloadHash: sha256(encodeUpdate(big)) };
    const old = updateFrom(randomParams(4), 5); // this peer's update of an earlier round
    const list: Gathered[] = [
      gathered(good1, g1),
      gathered(good2, g2),
      gathered(good3, g3),
      gathered(copier, g1), // g1's bytes again, announced later
      gathered(loud, bigUpdate),
      gathered(stale, g2, stateOf(2, randomParams(7)).hash),
      gathered(noisy, updateFrom(theta, 8)),
      gathered(replayer, old),
    ];
    const dropped: Dropped[] = [
      { address: broken.address, reason: "decode_failed", detail: "x" },
      { address: late.address, reason: "fetch_failed", detail: "x" },
    ];
    const received = [...list, { ...gathered(absent, g2) }];
    const earlier = new Map([[old.payloadHash as string, { round: 1, address: good3.address }]]);
    const { verdicts, lossBefore } = await scorer.score(state, { received, gathered: list, dropped }, "seed", earlier);
    assert.equal(lossBefore, await engine.evaluate(theta, []));
    const reason = (p: typeof good1) => verdicts.get(p.address)?.components.reason;
    for (const p of [good1, good2, good3]) {
      assert.equal(reason(p), "ok", p.address);
      assert.ok(verdicts.get(p.address)!.components.heldOutGain > 0.001, "a step toward the target gains");
      assert.ok(verdicts.get(p.address)!.lossAfter! < lossBefore);
    }
    assert.equal(reason(copier), "copy");
    assert.equal(reason(replayer), "copy");
    assert.equal(reason(loud), "invalid:norm_too_large");
    assert.equal(reason(stale), "out_of_sync");
    assert.equal(reason(broken), "invalid:decode_failed");
    assert.equal(reason(late), "missing");
    assert.equal(reason(absent), "missing", "announced but neither gathered nor dropped");
    assert.ok(
      verdicts.get(noisy.address)!.components.final < verdicts.get(good1.address)!.components.final,
      "a random direction earns less than a step toward the target",
    );
    for (const p of [copier, replayer, loud, stale, broken, late, absent])
      assert.equal(verdicts.get(p.address)!.components.final, 0, p.address);
    assert.equal(verdicts.get(good1.address)!.chain.length, verdicts.get(late.address)!.chain.length);
    assert.equal(parseHash32(list[0].ann.baseModelHash, "base"), state.hash);
  });

  /** Eight honest updates toward the target, each on its own coordinates (none is a copy of another). */
  const honestRound = () => {
    const peers = testPeers(8);
    const list = peers.map((p, i) => gathered(p, updateFrom(theta, 20 + i, { target, part: i, of: 8 })));
    return { peers, list };
  };

  it("under a time budget: the gather set first, then a seeded order, the rest 'not evaluated' and not rated", async () => {
    const { peers, list } = honestRound();
    const first = new Set([peers[5].address, peers[6].address]);
    // the budget in evaluations: θ_r's two losses (scoring windows, held-out), then 3 per update; room for 4
    const budgetFor = (updates: number) => {
      const start = evaluations;
      return () => 2 + 3 * updates - (evaluations - start) - 0.5;
    };
    const run = async (seed: string) => {
      const { verdicts, evaluated } = await scorer.score(
        state,
        { received: list, gathered: list, dropped: [] },
        seed,
        new Map(),
        { first, secondsLeft: budgetFor(4) },
      );
      const done = list.map((g) => g.address).filter((a) => verdicts.get(a)!.components.reason !== "not_evaluated");
      return { verdicts, evaluated, done };
    };
    const a = await run("seed-a");
    assert.equal(a.evaluated, 4);
    assert.equal(a.done.length, 4);
    for (const addr of first) assert.ok(a.done.includes(addr), "the gather set is scored first");
    for (const [addr, v] of a.verdicts) {
      if (a.done.includes(addr)) {
        assert.equal(v.components.reason, "ok", addr);
        continue;
      }
      // explicit, and neither reward nor punishment: score 0, no gain measured, not "missing"
      assert.equal(v.components.final, 0);
      const chain = decodeChainComponents(v.chain);
      assert.equal(chain.reason, "not_evaluated");
      assert.equal(chain.missing, false);
      assert.equal(chain.heldOutGain, null);
    }
    assert.deepEqual((await run("seed-a")).done, a.done, "the order after the gather set is a function of the seed");
    const others = new Set<string>();
    for (const seed of ["s1", "s2", "s3", "s4", "s5", "s6"])
      for (const addr of (await run(seed)).done) if (!first.has(addr)) others.add(addr);
    assert.ok(others.size > 2, `different seeds evaluate different peers (${others.size})`);

    // the ratings: evaluated peers play the round, unevaluated ones keep their rating untouched
    const held = new Map<string, PeerRating>(
      list.map((g) => [g.address, { mu: 30, sigma: 5, bma: 0.5, rounds: 3, lastRound: 2 }]),
    );
    let committed = new Map<string, PeerRating>();
    const book = new ScoreBook({
      ratings: {
        all: async () => held,
        commitRound: async (_r: number, ratings: Map<string, PeerRating>) => {
          committed = ratings;
        },
      },
    });
    await book.load();
    const registry = list.map((g) => g.address);
    const submitted = book.rate(3, a.verdicts, registry, 1);
    await book.commit(3, a.verdicts);
    for (const [i, addr] of registry.entries()) {
      if (a.done.includes(addr)) {
        assert.ok(submitted.scores[i] > 0, "an evaluated honest peer is paid");
        assert.equal(committed.get(addr)!.lastRound, 3);
      } else {
        assert.equal(submitted.scores[i], 0);
        assert.deepEqual(committed.get(addr), held.get(addr), "not evaluated: rating and proof average unchanged");
      }
    }
  });

  it("with no time left every update is 'not evaluated', yet each peer has a verdict to submit", async () => {
    const { list } = honestRound();
    const { verdicts, evaluated } = await scorer.score(
      state,
      { received: list, gathered: list, dropped: [] },
      "seed",
      new Map(),
      { secondsLeft: () => -1 },
    );
    assert.equal(evaluated, 0);
    assert.equal(verdicts.size, list.length);
    for (const v of verdicts.values()) assert.equal(v.components.reason, "not_evaluated");
  });

  it("the first update is not started when its estimated cost (three held-out passes) exceeds the time left", async () => {
    const { list } = honestRound();
    // every pass takes 40 ms: θ_r's held-out pass is timed, and the first update is estimated at that
    // × (1 + 2·ownSamples/heldoutSamples) = 2 passes, ~80 ms (a timer may fire a hair early: 79.9 ms)
    const slow = testScorer({
      async evaluate(params: ParamMap): Promise<number> {
        await new Promise((r) => setTimeout(r, 40));
        return engine.evaluate(params, []);
      },
      async evaluateEach(params: ParamMap, batches: readonly TokenBatch[]): Promise<number[]> {
        await new Promise((r) => setTimeout(r, 40));
        return engine.evaluateEach(params, batches);
      },
    });
    const score = (seconds: number) =>
      slow.score(state, { received: list, gathered: list, dropped: [] }, "seed", new Map(), {
        secondsLeft: () => seconds,
      });
    const tight = await score(0.06); // room for one and a half passes, not the estimated two
    assert.equal(tight.evaluated, 0, "nothing started that would end after the window");
    assert.equal(tight.verdicts.size, list.length);
    const roomy = await score(0.5);
    assert.ok(roomy.evaluated >= 1, "with room for it the first update is evaluated");
  });

  it("an update first seen after the arrival deadline scores 'late', whatever its gain", async () => {
    const { peers, list } = honestRound();
    const cutoff = list[3].receivedAt + 0.5; // peers 4.. arrived after it
    const { verdicts } = await scorer.score(state, { received: list, gathered: list, dropped: [] }, "seed", new Map(), {
      lateAfterMs: cutoff,
    });
    for (const [i, p] of peers.entries()) {
      const v = verdicts.get(p.address)!;
      if (i <= 3) assert.equal(v.components.reason, "ok");
      else {
        assert.equal(v.components.reason, "late");
        assert.equal(v.components.final, 0);
        assert.equal(decodeChainComponents(v.chain).reason, "late");
      }
    }
    const restarted = await scorer.score(state, { received: list, gathered: list, dropped: [] }, "seed");
    for (const v of restarted.verdicts.values())
      assert.equal(v.components.reason, "ok", "without a known cutoff (validator restarted) nobody is late");
  });

  it("a proven equivocator scores 0 with reason 'equivocation' and costs no evaluation", async () => {
    const { peers, list } = honestRound();
    const before = evaluations;
    const { verdicts } = await scorer.score(
      state,
      { received: list, gathered: list, dropped: [], equivocators: new Set([peers[2].address]) },
      "seed",
    );
    // θ_r on the scoring windows and on the held-out split, then 3 per update but the equivocator's
    assert.equal(evaluations - before, 2 + 3 * (list.length - 1));
    const v = verdicts.get(peers[2].address)!;
    assert.equal(v.components.reason, "equivocation");
    assert.equal(v.components.final, 0);
    assert.equal(decodeChainComponents(v.chain).reason, "equivocation");
    for (const p of peers.filter((_, i) => i !== 2)) assert.equal(verdicts.get(p.address)!.components.reason, "ok");
  });

  it("proof-of-training samples are drawn from the whole assignment by the post-deadline seed", async () => {
    const [p] = testPeers(1);
    const list = [gathered(p, updateFrom(theta, 40, { target, part: 0, of: 2 }))];
    const seen: TokenBatch[][] = [];
    const recording = new Scorer(
      {
        runId: "test",
        seqLen: 8,
        batchSize: 2,
        innerSteps: 2,
        heldoutSamples: 4,
        ownSamples: 2,
        alpha: 1,
        evalLrFactor: 1,
        copyThreshold: 0.4,
      },
      {
        engine: {
          async evaluate(params: ParamMap, batches: readonly TokenBatch[]) {
            seen.push([...batches]);
            return engine.evaluate(params, batches);
          },
          async evaluateEach(params: ParamMap, batches: readonly TokenBatch[]) {
            seen.push([...batches]);
            return engine.evaluateEach(params, batches);
          },
        },
        dataset: tinyDataset(),
        specs: SPECS,
        metrics: null,
      },
    );
    // calls per round: θ_r scoring windows, θ_r held-out split, probe scoring windows, θ_r own, probe own
    const ownFor = async (seed: string) => {
      seen.length = 0;
      await recording.score(state, { received: list, gathered: list, dropped: [] }, seed);
      assert.deepEqual(seen[3], seen[4], "before and after on the same own samples");
      assert.deepEqual(seen[0], seen[2], "the update's gain on θ_r's scoring windows");
      return seen[3];
    };
    const a = assignSamples(
      { runId: "test", round: state.round, address: p.address, count: 4, seqLen: 8, batchSize: 2 },
      tinyDataset(),
    );
    const firstTwo = assignmentBatches({ ...a, samples: a.samples.slice(0, 2) }, tinyDataset(), 1, 8);
    assert.deepEqual(await ownFor("s1"), await ownFor("s1"), "a function of the seed");
    const draws: TokenBatch[][] = [];
    for (const seed of ["s1", "s2", "s3", "s4", "s5", "s6"]) draws.push(await ownFor(seed));
    assert.ok(
      draws.some((d) => JSON.stringify(d) !== JSON.stringify(firstTwo)),
      "not always the first samples of the assignment",
    );
  });
});
