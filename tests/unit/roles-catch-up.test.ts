import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RoleError } from "../../node/roles/errors.ts";
import { type ModelUpdate, nextModel } from "../../node/sparseloco/index.ts";
import {
  OUTER,
  SPECS,
  type TestPeer,
  keeperFixture,
  randomParams,
  stateOf,
  testPeers,
  updateFrom,
} from "../fixtures/roles.ts";

/**
 * RoundKeeper.catchUp (DESIGN "Catch-up") against a real store and inbox and a fake chain view: a node
 * behind the chain replays finalized rounds with exactly the included updates and checks every hash; a
 * node whose outer step forked recomputes it; a replay that cannot reach the chain's hash changes nothing.
 */
describe("roles: catch-up", () => {
  const [self, a, b, c] = testPeers(4);
  const peers = [self, a, b, c];
  const theta0 = randomParams(1);

  /** The canonical payload list of (peer, its update). */
  const entries = (list: Array<[TestPeer, ModelUpdate]>) =>
    list.map(([p, u]) => ({ index: peers.indexOf(p), hash: u.payloadHash }));

  /** Rounds 0..n-1 as the network ran them: a, b, c announce; `included[r]` is what the chain aggregated. */
  function history(fx: Awaited<ReturnType<typeof keeperFixture>>, included: TestPeer[][], gossip = true) {
    let s = stateOf(0, theta0);
    const states = [s];
    included.forEach((inc, r) => {
      const ups = new Map([a, b, c].map((p, i) => [p, updateFrom(s.params, 100 * r + i)]));
      for (const [p, u] of ups) fx.p2p.announce(p, r, s.hash, u.payload, { onlyBySync: !gossip });
      const next = nextModel(s.params, new Map(inc.map((p) => [p.address, ups.get(p)!.tensors])), SPECS, OUTER);
      fx.chain.finalize(r, next.hash, entries(inc.map((p) => [p, ups.get(p)!])));
      s = stateOf(r + 1, next.params);
      states.push(s);
    });
    return states;
  }

  it("behind: replays each finalized round from its payload list (fetched by hash, no gossip seen) and commits", async () => {
    const fx = await keeperFixture(peers, self, theta0);
    try {
      const states = history(fx, [[a, b], [c], [a, b, c]], false);
      const out = await fx.keeper.catchUp(stateOf(0, theta0), null);
      assert.equal(out.round, 3);
      assert.equal(out.hash, states[3].hash);
      assert.ok(fx.chain.syncs > 0, "re-reads the chain first");
      const stored = await fx.store.peerState.load();
      assert.equal(stored?.round, 3);
      assert.equal(stored?.modelHash, states[3].hash);
      const rec = await fx.store.rounds.get(1);
      assert.equal(rec?.status, "finalized");
      assert.deepEqual(
        rec?.gathered.map((g) => g.address),
        [c.address],
      );
      assert.equal((await fx.keeper.catchUp(out, null)).hash, out.hash, "level: nothing to do");
    } finally {
      await fx.close();
    }
  });

  it("forked: recomputes the finalized round from θ of that round when our outer step saw other updates", async () => {
    const fx = await keeperFixture(peers, self, theta0);
    try {
      const states = history(fx, [[a, b]]);
      const s0 = stateOf(0, theta0);
      const mine = nextModel(theta0, new Map(), SPECS, OUTER); // we gathered nothing
      const out = await fx.keeper.catchUp(stateOf(1, mine.params), s0);
      assert.equal(out.round, 1);
      assert.equal(out.hash, states[1].hash);
    } finally {
      await fx.close();
    }
  });

  it("forked and behind: repairs the forked round first, then replays the later finalized ones", async () => {
    const fx = await keeperFixture(peers, self, theta0);
    try {
      const states = history(fx, [[a, b], [c]]);
      const s0 = stateOf(0, theta0);
      const mine = nextModel(theta0, new Map(), SPECS, OUTER); // we gathered nothing in round 0
      const out = await fx.keeper.catchUp(stateOf(1, mine.params), s0);
      assert.equal(out.round, 2);
      assert.equal(out.hash, states[2].hash);
    } finally {
      await fx.close();
    }
  });

  it("forked twice: when θ of the forked round is off the chain's path too, rebuilds from θ_0", async () => {
    const fx = await keeperFixture(peers, self, theta0);
    try {
      const states = history(fx, [[a, b], [c]]);
      const wrong1 = stateOf(1, nextModel(theta0, new Map(), SPECS, OUTER).params); // we gathered nothing in round 0
      const wrong2 = stateOf(2, randomParams(8));
      const out = await fx.keeper.catchUp(wrong2, wrong1);
      assert.equal(out.round, 2);
      assert.equal(out.hash, states[2].hash);
    } finally {
      await fx.close();
    }
  });

  it("forked with θ of that round gone: rebuilds from θ_0, replaying finalized rounds and gathering the rest", async () => {
    const fx = await keeperFixture(peers, self, theta0);
    try {
      const states = history(fx, [[a, b]]);
      // Round 1 is not finalized: the gather rule (round 0's gather set {a, b}) applies.
      const u1 = new Map([a, b, c].map((p, i) => [p, updateFrom(states[1].params, 50 + i)]));
      for (const [p, u] of u1) fx.p2p.announce(p, 1, states[1].hash, u.payload);
      const want = nextModel(
        states[1].params,
        new Map([a, b].map((p) => [p.address, u1.get(p)!.tensors])),
        SPECS,
        OUTER,
      );
      // We are at round 2, but our record of round 0 says we reached another θ_1.
      await fx.store.rounds.put({
        round: 0,
        baseModelHash: states[0].hash,
        newModelHash: "ab".repeat(32),
        gathered: [],
        timings: {},
        losses: {},
        status: "aggregated",
      });
      const out = await fx.keeper.catchUp(stateOf(2, randomParams(9)), null);
      assert.equal(out.round, 2);
      assert.equal(out.hash, want.hash);
    } finally {
      await fx.close();
    }
  });

  it("an included update nobody serves, or a replay that misses the chain's hash, fails and commits nothing", async () => {
    const fx = await keeperFixture(peers, self, theta0);
    try {
      const s0 = stateOf(0, theta0);
      const ua = updateFrom(theta0, 1);
      fx.p2p.announce(a, 0, s0.hash, ua.payload, { served: false });
      fx.chain.finalize(
        0,
        nextModel(theta0, new Map([[a.address, ua.tensors]]), SPECS, OUTER).hash,
        entries([[a, ua]]),
      );
      await assert.rejects(
        fx.keeper.catchUp(s0, null),
        (e: unknown) => e instanceof RoleError && e.code === "CATCH_UP_FAILED" && /got 0 of the 1/.test(e.message),
      );
      // A provider serving other bytes under that hash is not believed.
      fx.p2p.payloads.set(ua.payloadHash, updateFrom(theta0, 2).payload);
      await assert.rejects(
        fx.keeper.catchUp(s0, null),
        (e: unknown) => e instanceof RoleError && e.code === "CATCH_UP_FAILED" && /got 0 of the 1/.test(e.message),
      );
      fx.p2p.payloads.set(ua.payloadHash, ua.payload);
      fx.chain.finalize(0, stateOf(0, randomParams(5)).hash, entries([[a, ua]])); // a hash no replay reaches
      await assert.rejects(
        fx.keeper.catchUp(s0, null),
        (e: unknown) => e instanceof RoleError && e.code === "REPLAY_MISMATCH" && /replay gives/.test(e.message),
      );
      assert.equal(await fx.store.peerState.load(), undefined, "nothing committed");
    } finally {
      await fx.close();
    }
  });

  it("saw other gossip than the validator: replays from the chain's payload list, not from its inbox", async () => {
    const fx = await keeperFixture(peers, self, theta0);
    try {
      const s0 = stateOf(0, theta0);
      const [ua1, ua2, ub, uc] = [1, 2, 3, 4].map((seed) => updateFrom(theta0, seed));
      // This node heard a's first payload and c's; a sent the validators another one, b only to them.
      fx.p2p.announce(a, 0, s0.hash, ua1.payload);
      fx.p2p.announce(c, 0, s0.hash, uc.payload);
      fx.p2p.payloads.set(ua2.payloadHash, ua2.payload);
      fx.p2p.payloads.set(ub.payloadHash, ub.payload);
      const chainNext = nextModel(
        theta0,
        new Map([
          [a.address, ua2.tensors],
          [b.address, ub.tensors],
        ]),
        SPECS,
        OUTER,
      );
      fx.chain.finalize(
        0,
        chainNext.hash,
        entries([
          [a, ua2],
          [b, ub],
        ]),
      );
      // Live: our own outer step (a's first payload and c's) forked; catch-up repairs it from the list.
      const ours = nextModel(
        theta0,
        new Map([
          [a.address, ua1.tensors],
          [c.address, uc.tensors],
        ]),
        SPECS,
        OUTER,
      );
      assert.notEqual(ours.hash, chainNext.hash);
      const out = await fx.keeper.catchUp(stateOf(1, ours.params), s0);
      assert.equal(out.hash, chainNext.hash);
      const rec = await fx.store.rounds.get(0);
      assert.deepEqual(
        rec?.gathered.map((g) => [g.address, g.payloadHash]),
        [
          [a.address, ua2.payloadHash],
          [b.address, ub.payloadHash],
        ],
      );
      assert.equal(rec?.status, "finalized");
      // A node that starts from θ_0 with the same inbox gets the same hash.
      const fresh = await fx.keeper.catchUp(s0, null);
      assert.equal(fresh.hash, chainNext.hash);
    } finally {
      await fx.close();
    }
  });

  it("a round finalized as skipped leaves θ unchanged: replayed through, and a live step in it undone", async () => {
    const fx = await keeperFixture(peers, self, theta0);
    try {
      const states = history(fx, [[a, b]]);
      // Round 1 skipped (no quorum), though updates were announced; round 2 builds on θ_2 = θ_1.
      for (const [i, p] of [a, b].entries())
        fx.p2p.announce(p, 1, states[1].hash, updateFrom(states[1].params, 60 + i).payload);
      fx.chain.skip(1);
      const u2 = updateFrom(states[1].params, 70);
      fx.p2p.payloads.set(u2.payloadHash, u2.payload);
      const want = nextModel(states[1].params, new Map([[c.address, u2.tensors]]), SPECS, OUTER);
      fx.chain.finalize(2, want.hash, entries([[c, u2]]));
      const out = await fx.keeper.catchUp(stateOf(0, theta0), null);
      assert.equal(out.round, 3);
      assert.equal(out.hash, want.hash);
      assert.equal((await fx.store.rounds.get(1))?.status, "skipped");
      assert.equal((await fx.store.rounds.get(1))?.newModelHash, states[1].hash);

      // Live: a validator that applied its own step in round 1 before the skip was known is set back.
      fx.chain.finalized.delete(2);
      const stepped = stateOf(2, randomParams(11));
      const back = await fx.keeper.catchUp(stepped, states[1]);
      assert.equal(back.round, 2);
      assert.equal(back.hash, states[1].hash);
    } finally {
      await fx.close();
    }
  });
  it("a round nobody submitted for, which the next finalized round builds on unchanged: our gather is not applied", async () => {
    const fx = await keeperFixture(peers, self, theta0);
    try {
      const states = history(fx, [[a, b]]);
      // Round 1 was announced before a stop, but nobody submitted for it (the restarted validator gathered
      // nothing: the contract never settles such a round); round 2 finalized on θ_2 = θ_1.
      for (const [i, p] of [a, b].entries())
        fx.p2p.announce(p, 1, states[1].hash, updateFrom(states[1].params, 80 + i).payload);
      const u2 = updateFrom(states[1].params, 90);
      fx.p2p.payloads.set(u2.payloadHash, u2.payload);
      const want = nextModel(states[1].params, new Map([[c.address, u2.tensors]]), SPECS, OUTER);
      fx.chain.finalize(2, want.hash, entries([[c, u2]]));
      const out = await fx.keeper.catchUp(states[1], null);
      assert.equal(out.round, 3);
      assert.equal(out.hash, want.hash);
      assert.equal((await fx.store.rounds.get(1))?.newModelHash, states[1].hash);
      assert.deepEqual((await fx.store.rounds.get(1))?.gathered, []);
    } finally {
      await fx.close();
    }
  });
});
