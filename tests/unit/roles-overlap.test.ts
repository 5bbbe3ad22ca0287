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
import { roundRecord } from "../../node/roles/round-keeper.ts";
import { type ModelState, mergeRecord } from "../../node/roles/state-store.ts";
import { type ParamMap, rebaseParams } from "../../node/sparseloco/index.ts";
import { globalInnerStep, roundLr, warmupCosine } from "../../node/train/index.ts";
import { SPECS, keeperFixture, randomParams, testPeers, tinyDataset, updateFrom } from "../fixtures/roles.ts";

/**
 * What the overlapped round needs beyond the synchronous one: a peer's two loops commit through one
 * store (θ after each outer step, the EF buffer with each published update) without losing either's
 * writes; the validator reproduces the announced prefix of a peer's samples; the step bounds are run
 * parameters; the rebase keeps the steps' progress.
 */
describe("roles: overlapped rounds", () => {
  const [self, a, b, c] = testPeers(4);
  const peers = [self, a, b, c];
  const theta0 = randomParams(1);

  it("the model loop's and the training loop's commits interleave without losing either's writes", async () => {
    const fx = await keeperFixture(peers, self, theta0);
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
        fx.state.commit(s1, roundRecord(s0, s1, [], { timings: { gather: 1 } })),
        fx.state.commitPublished(ef, published, []),
      ]);
      const stored = await fx.store.peerState.load();
      assert.equal(stored?.round, 1, "the newest θ");
      assert.equal(stored?.errorFeedback.values().next().value?.[0], 0.5, "the newest EF buffer");
      const s2 = fx.keeper.step(s1, []).next;
      await fx.state.commit(s2, roundRecord(s1, s2, [], { timings: { gather: 2 } }));
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

  it("the scorer evaluates the announced prefix of the peer's samples", async () => {
    const dataset = tinyDataset();
    const seen: number[] = [];
    const engine = {
      async evaluate(_p: ParamMap, batches: readonly { batch: number; inputs: Int32Array }[]) {
        seen.push(batches.reduce((n, x) => n + x.batch, 0));
        return 2;
      },
      async evaluateEach(_p: ParamMap, batches: readonly { batch: number; inputs: Int32Array }[]) {
        seen.push(batches.reduce((n, x) => n + x.batch, 0));
        return batches.map(() => 2);
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
    };
    const H11 = parseHash32("11".repeat(32), "test");
    const H22 = parseHash32("22".repeat(32), "test");
    const scorer = new Scorer(opts, { engine, dataset, specs: SPECS, metrics: null });
    const prev = randomParams(5);
    const theta: ModelState = {
      round: 3,
      params: randomParams(6),
      hash: H11,
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
      gathered: [gathered(a, H11, 6, 1), gathered(b, H22, 20, 2)],
      dropped: [],
    };
    const { verdicts } = await scorer.score(theta, round, "seed");
    assert.equal(verdicts.get(a.address)?.components.sync, 1);
    assert.equal(verdicts.get(b.address)?.components.sync, 0, "another base: out of sync, not evaluated");
    // scoring windows before, held-out split (for the record), scoring windows after, then own
    // before/after on min(ownSamples, samples) = 6 samples
    assert.deepEqual(seen.slice(3), [6, 6]);
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
    assert.deepEqual([ok.train.minInnerSteps, ok.train.innerSteps], [4, 40]);
    const bad = runConfigSchema.safeParse({ runId: "x", train: { innerSteps: 4, minInnerSteps: 5 } });
    assert.ok(!bad.success);
    const err = ConfigError.fromZod(bad.error, "runConfig");
    assert.equal(err.field, "runConfig.train.minInnerSteps");
    assert.match(err.message, /must not exceed train.innerSteps/);
    assert.ok(!runConfigSchema.safeParse({ runId: "x", train: { minInnerSteps: 0 } }).success);
  });

  it("the rebase moves a state by (to − from), keeping its progress", () => {
    const from = randomParams(2);
    const to = randomParams(3);
    const x = new Map([...from].map(([k, v]) => [k, v.map((y) => y + 0.5)]));
    const out = rebaseParams(x, from, to, SPECS);
    for (const [k, v] of to) {
      const o = out.get(k)!;
      for (let i = 0; i < v.length; i++) assert.ok(Math.abs(o[i] - (v[i] + 0.5)) < 1e-6);
    }
    assert.equal(x.get(SPECS[0].name)![0], Math.fround(from.get(SPECS[0].name)![0] + 0.5), "inputs untouched");
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
