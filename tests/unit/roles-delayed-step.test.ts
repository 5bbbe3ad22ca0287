import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, runConfigSchema } from "../../node/config/index.ts";
import { assignSamples } from "../../node/data/index.ts";
import { type Hash32, parseHash32, sha256Bytes } from "../../node/hash/index.ts";
import { randomIdentity } from "../../node/identity/index.ts";
import {
  GossipValidationError,
  GossipValidator,
  UpdateAnnouncement,
  defaultP2POptions,
  topicName,
} from "../../node/p2p/index.ts";
import { buildAnnouncement } from "../../node/roles/announcement.ts";
import { Scorer } from "../../node/roles/scorer.ts";
import { type ModelState, mergeRecord } from "../../node/roles/state-store.ts";
import { type ParamMap, nextModel } from "../../node/sparseloco/index.ts";
import { globalInnerStep, roundLr, warmupCosine } from "../../node/train/index.ts";
import { OUTER, SPECS, keeperFixture, randomParams, testPeers, tinyDataset, updateFrom } from "../fixtures/roles.ts";

/**
 * The one-round-delayed outer step (run config sparseloco.outerDelay = 1, docs/roles.md): round r's
 * updates are built on θ_{r−1} and applied to θ_r. Every node can say which base a round's updates
 * carry (gather, replay and scoring check it exactly); the peer's two loops commit through one store.
 */
describe("roles: delayed outer step", () => {
  const [self, a, b, c] = testPeers(4);
  const peers = [self, a, b, c];
  const theta0 = randomParams(1);

  it("gather takes round r's updates built on θ_{r−1}, drops those on θ_r, and applies them to θ_r", async () => {
    const fx = await keeperFixture(peers, self, theta0, 1);
    try {
      const s0 = fx.state.genesis();
      assert.equal(s0.previousHash, s0.hash, "θ_{−1} is θ_0: rounds 0 and 1 both train on θ_0");
      const u0 = updateFrom(theta0, 1);
      fx.p2p.announce(a, 0, s0.hash, u0.payload);
      const s1 = fx.keeper.step(s0, (await fx.keeper.gather(s0)).gathered).next;
      assert.equal(s1.previousHash, s0.hash);
      const ua = updateFrom(theta0, 2); // round 1, built on θ_0 while round 0 was gathered
      const ub = updateFrom(s1.params, 3); // built on θ_1: the synchronous rule, wrong here
      fx.p2p.announce(a, 1, s0.hash, ua.payload);
      fx.p2p.announce(b, 1, s1.hash, ub.payload);
      const g = await fx.keeper.gather(s1);
      assert.deepEqual(
        g.gathered.map((x) => x.address),
        [a.address],
      );
      assert.deepEqual(
        g.dropped.map((x) => [x.address, x.reason]),
        [[b.address, "wrong_base"]],
      );
      const s2 = fx.keeper.step(s1, g.gathered).next;
      assert.equal(s2.hash, nextModel(s1.params, new Map([[a.address, ua.tensors]]), SPECS, OUTER).hash);
      assert.equal(s2.previousHash, s1.hash);
      const all = await fx.keeper.gatherAll(1);
      assert.deepEqual(
        (await fx.keeper.forStep(s1, all.gathered)).map((x) => x.address),
        [a.address],
        "a validator's step applies the same rule",
      );
    } finally {
      await fx.close();
    }
  });

  it("catch-up replays finalized rounds under the delayed rule and stores θ_{r−1}'s hash with θ_r", async () => {
    const fx = await keeperFixture(peers, self, theta0, 1);
    try {
      const models: ModelState[] = [fx.state.genesis()];
      for (let r = 0; r < 3; r++) {
        const base = models[Math.max(0, r - 1)];
        const ups = [a, b].map((p, i) => [p, updateFrom(base.params, 10 * r + i)] as const);
        for (const [p, u] of ups) fx.p2p.announce(p, r, base.hash, u.payload, { onlyBySync: true });
        const next = nextModel(models[r].params, new Map(ups.map(([p, u]) => [p.address, u.tensors])), SPECS, OUTER);
        fx.chain.finalize(r, next.hash, [1, 2]);
        models.push({ round: r + 1, params: next.params, hash: next.hash, previousHash: models[r].hash });
      }
      const out = await fx.keeper.catchUp(fx.state.genesis(), null);
      assert.equal(out.round, 3);
      assert.equal(out.hash, models[3].hash);
      assert.equal(out.previousHash, models[2].hash);
      const stored = await fx.store.peerState.load();
      assert.equal(stored?.previousModelHash, models[2].hash, "a restart knows round 3's base");
      const loaded = await fx.state.load();
      assert.equal(loaded.previousHash, models[2].hash);
    } finally {
      await fx.close();
    }
  });

  it("the model loop's and the training loop's commits interleave without losing either's writes", async () => {
    const fx = await keeperFixture(peers, self, theta0, 1);
    try {
      const s0 = await fx.state.load();
      const s1 = fx.keeper.step(s0, []).next;
      const ef: ParamMap = new Map([...s0.params].map(([k, v]) => [k, v.map(() => 0.5)]));
      const published = {
        round: 1,
        baseModelHash: s0.hash,
        gathered: [],
        ownPayloadHash: "ab".repeat(32),
        samples: 24,
        timings: { train: 9, utilization: 0.95 },
        losses: { trainLast: 3 },
        status: "published" as const,
      };
      // both in flight at once, as the two loops do
      await Promise.all([
        fx.state.commit(s1, fx.keeper.record(s0, s1, [], { timings: { gather: 1 } })),
        fx.state.commitPublished(ef, published, []),
      ]);
      const stored = await fx.store.peerState.load();
      assert.equal(stored?.round, 1, "the newest θ");
      assert.equal(stored?.errorFeedback.values().next().value?.[0], 0.5, "the newest EF buffer");
      const s2 = fx.keeper.step(s1, []).next;
      await fx.state.commit(s2, fx.keeper.record(s1, s2, [], { timings: { gather: 2 } }));
      const rec = await fx.store.rounds.get(1);
      assert.equal(rec?.ownPayloadHash, published.ownPayloadHash);
      assert.equal(rec?.baseModelHash, s0.hash, "the announced base stays");
      assert.equal(rec?.newModelHash, s2.hash);
      assert.deepEqual(rec?.timings, { train: 9, utilization: 0.95, gather: 2 });
      assert.equal(rec?.samples, 24);
      assert.equal(rec?.status, "aggregated");
      assert.equal(await fx.state.publishedIn(1), published.ownPayloadHash);
      assert.equal(await fx.state.publishedIn(2), null);
      assert.equal(mergeRecord(undefined, published), published, "nothing stored: the record as written");
    } finally {
      await fx.close();
    }
  });

  it("the scorer checks the delayed base and evaluates the announced prefix of the peer's samples", async () => {
    const dataset = tinyDataset();
    const seen: number[] = [];
    const engine = {
      async evaluate(_p: ParamMap, batches: readonly { batch: number; inputs: Int32Array }[]) {
        seen.push(batches.reduce((n, x) => n + x.batch, 0));
        return 2;
      },
    };
    const opts = {
      runId: "test",
      seqLen: 8,
      batchSize: 2,
      innerSteps: 10,
      heldoutSamples: 4,
      ownSamples: 8,
      alpha: 1,
      evalLrFactor: 1,
      copyThreshold: 0.4,
      outerDelay: 1 as const,
    };
    const H11 = parseHash32("11".repeat(32), "test");
    const H22 = parseHash32("22".repeat(32), "test");
    const scorer = new Scorer(opts, { engine, dataset, specs: SPECS, metrics: null });
    const prev = randomParams(5);
    const theta: ModelState = {
      round: 3,
      params: randomParams(6),
      hash: H11,
      previousHash: H22,
    };
    const gathered = (p: typeof a, base: Hash32, samples: number, seed: number) => {
      const u = updateFrom(prev, seed);
      const ann = {
        runId: "test",
        multiaddrs: [],
        ...buildAnnouncement({
          round: 3,
          baseModelHash: base,
          payloadHash: u.payloadHash,
          payload: u.payload,
          samples,
        }),
      };
      return { round: 3, ...p, ann, receivedAt: seed, payloadHash: u.payloadHash, bytes: u.payload, update: u.tensors };
    };
    const round = {
      received: [],
      gathered: [gathered(a, H22, 6, 1), gathered(b, H11, 20, 2)],
      dropped: [],
    };
    const { verdicts } = await scorer.score(theta, round, "seed");
    assert.equal(verdicts.get(a.address)?.components.sync, 1, "built on θ_{r−1}: in sync");
    assert.equal(verdicts.get(b.address)?.components.sync, 0, "built on θ_r: out of sync under the delay");
    // held-out before, held-out after, then own before/after on min(ownSamples, samples) = 6 samples
    assert.deepEqual(seen.slice(2), [6, 6]);
    const prefix = assignSamples(
      { runId: "test", round: 3, address: a.address, count: 6, seqLen: 8, batchSize: 2 },
      dataset,
    );
    const full = assignSamples(
      { runId: "test", round: 3, address: a.address, count: 20, seqLen: 8, batchSize: 2 },
      dataset,
    );
    assert.deepEqual(prefix.samples, full.samples.slice(0, 6), "a prefix of the assignment stream");
  });
});

describe("run config and wire: step bounds", () => {
  it("min and max inner steps are validated and hashed; min > max names the field", () => {
    const ok = runConfigSchema.parse({ runId: "x", train: { innerSteps: 40, minInnerSteps: 4 } });
    assert.deepEqual([ok.train.minInnerSteps, ok.train.innerSteps, ok.sparseloco.outerDelay], [4, 40, 1]);
    const bad = runConfigSchema.safeParse({ runId: "x", train: { innerSteps: 4, minInnerSteps: 5 } });
    assert.ok(!bad.success);
    const err = ConfigError.fromZod(bad.error, "runConfig");
    assert.equal(err.field, "runConfig.train.minInnerSteps");
    assert.match(err.message, /must not exceed train.innerSteps/);
    assert.ok(!runConfigSchema.safeParse({ runId: "x", sparseloco: { outerDelay: 2 } }).success);
  });

  it("the inner lr is a function of (round, step): the schedule at round·H + step", () => {
    const s = warmupCosine({ peakLr: 1, warmupSteps: 10, totalSteps: 100, minRatio: 0.1 });
    const lr = roundLr(s, 8);
    assert.equal(globalInnerStep(3, 5, 8), 29);
    assert.equal(lr(3, 5), s(29));
    assert.throws(() => globalInnerStep(0, 8, 8), RangeError);
  });

  it("gossip rejects an update announcing a sample count outside the run's bounds", async () => {
    const alice = randomIdentity();
    const v = new GossipValidator(
      { ...defaultP2POptions, runId: "r", updateSamples: { min: 8, max: 64 } },
      { isRegistered: () => true, currentRound: () => 10 },
    );
    const payload = new Uint8Array(100).fill(7);
    const verdict = async (samples: number | undefined, round: number) => {
      const data = UpdateAnnouncement.encode({
        runId: "r",
        round,
        baseModelHash: sha256Bytes(new Uint8Array(1)),
        payloadHash: sha256Bytes(payload),
        payloadBytes: payload.byteLength,
        dataDigest: sha256Bytes(new Uint8Array(2)),
        multiaddrs: [],
        samples,
      });
      const msg = {
        type: "signed" as const,
        from: alice.peerId,
        topic: topicName("r", "updates"),
        data,
        sequenceNumber: 1n,
        signature: new Uint8Array(64),
        key: alice.peerId.publicKey!,
      };
      try {
        await v.validate("updates", msg, alice.peerId);
        return "ACCEPT";
      } catch (err) {
        assert.ok(err instanceof GossipValidationError);
        return `${err.action}:${err.code}`;
      }
    };
    assert.equal(await verdict(4, 9), "REJECT:BAD_FIELD");
    assert.equal(await verdict(65, 9), "REJECT:BAD_FIELD");
    assert.equal(await verdict(undefined, 9), "REJECT:BAD_FIELD");
    assert.equal(await verdict(24, 10), "ACCEPT");
  });
});
