import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { sha256 } from "../../node/hash/index.ts";
import { nextModel } from "../../node/sparseloco/index.ts";
import { OUTER, SPECS, keeperFixture, randomParams, stateOf, testPeers, updateFrom } from "../fixtures/roles.ts";

/**
 * RoundKeeper's gather and outer step (node/roles/round-keeper.ts) against a real store and inbox, a
 * fake chain view and four faked P2P calls: which updates a round aggregates, and that a validator
 * (one decode per payload for scoring and aggregation) reaches the same θ_{r+1} as a peer.
 */
describe("roles: gather and outer step", async () => {
  const [self, a, b, c, d, e, f] = testPeers(7);
  const theta0 = randomParams(1);
  const s0 = stateOf(0, theta0);
  const s1 = stateOf(1, randomParams(2));
  const fx = await keeperFixture([self, a, b, c, d, e, f], self, theta0);
  after(() => fx.close());

  // Round 1; the chain finalized round 0 with gather set {self, a, b, d, e, f} (registry indices).
  fx.chain.finalize(0, s1.hash, [0, 1], [0, 1, 2, 4, 5, 6]);
  const ua = updateFrom(s1.params, 11);
  const ub = updateFrom(s1.params, 12);
  const uc = updateFrom(s1.params, 13);
  const own = updateFrom(s1.params, 10);
  fx.p2p.announce(a, 1, s1.hash, ua.payload);
  fx.p2p.announce(b, 1, s1.hash, ub.payload, { onlyBySync: true }); // missed on gossip
  fx.p2p.announce(c, 1, s1.hash, uc.payload); // not in the gather set
  fx.p2p.announce(d, 1, s0.hash, updateFrom(s0.params, 14).payload); // built on θ_0
  fx.p2p.announce(e, 1, s1.hash, randomBytes(300)); // does not decode
  fx.p2p.announce(f, 1, s1.hash, updateFrom(s1.params, 15).payload, { served: false }); // nobody serves it
  // Our own update of round 1, published before a restart: only the store knows it.
  await fx.store.blobs.put(own.payload, { kind: "update", round: 1, peer: self.address });
  await fx.store.rounds.put({
    round: 1,
    baseModelHash: s1.hash,
    ownPayloadHash: own.payloadHash,
    gathered: [],
    timings: {},
    losses: {},
    status: "published",
  });

  it("takes the gather set's updates built on H(θ_r), including our own and those missed on gossip", async () => {
    const g = await fx.keeper.gather(s1);
    assert.deepEqual(g.gathered.map((x) => x.address).sort(), [self.address, a.address, b.address].sort());
    const why = Object.fromEntries(g.dropped.map((x) => [x.address, x.reason]));
    assert.deepEqual(why, { [d.address]: "wrong_base", [e.address]: "decode_failed", [f.address]: "fetch_failed" });
    assert.deepEqual(fx.p2p.penalized, [e.peerId.toString()], "the sender of an undecodable payload is penalized");
    assert.equal(g.gathered.find((x) => x.address === a.address)?.payloadHash, sha256(ua.payload));
    assert.ok(await fx.store.blobs.has(ua.payloadHash), "fetched payloads are kept for replay");

    const { next } = fx.keeper.step(s1, g.gathered);
    const byPeer = new Map([self, a, b].map((p, i) => [p.address, [own, ua, ub][i].tensors]));
    assert.equal(next.round, 2);
    assert.equal(next.hash, nextModel(s1.params, byPeer, SPECS, OUTER).hash);
  });

  it("a validator decodes each payload once; its outer step picks the same updates and reaches the same hash", async () => {
    const all = await fx.keeper.gatherAll(1);
    const scored = all.gathered.map((x) => x.address).sort();
    assert.deepEqual(
      scored,
      [self.address, a.address, b.address, c.address, d.address].sort(),
      "everything that decodes",
    );
    const used = await fx.keeper.forStep(s1, all.gathered);
    for (const u of used) assert.ok(all.gathered.includes(u), "the step reuses the decoded updates, no second decode");
    assert.deepEqual(used.map((x) => x.address).sort(), [self.address, a.address, b.address].sort());
    const peer = fx.keeper.step(s1, (await fx.keeper.gather(s1)).gathered).next;
    assert.equal(fx.keeper.step(s1, used).next.hash, peer.hash);
  });

  it("with nothing finalized every registered peer is gathered; with no update θ is unchanged", async () => {
    assert.deepEqual([...(await fx.keeper.gatherAddresses(0))].sort(), fx.registry.peerList.slice().sort());
    const g = await fx.keeper.gather(stateOf(5, s1.params));
    assert.equal(g.gathered.length, 0);
    assert.equal(fx.keeper.step(stateOf(5, s1.params), []).next.hash, s1.hash);
  });
});
