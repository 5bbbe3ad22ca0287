import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import {
  distanceEngine,
  keeperFixture,
  randomParams,
  stateOf,
  testPeers,
  testScorer,
  updateFrom,
} from "../fixtures/roles.ts";

/**
 * Equivocation (issue 16): author E signs two different updates for round 0 and sends one to each half
 * of the network. Relays IGNORE the second version, so peer P only ever sees version 2 while peer Q and
 * the validator V see both (node/p2p keeps both envelopes and reports E; tests/unit/p2p.test.ts checks
 * that part on real libp2p nodes). Outcome: V excludes E from θ_1 and scores it 0 ("equivocation"); Q
 * reaches V's hash directly; P, which aggregated E's version 2, is repaired by the chain's finalization
 * (included set without E) — every honest node ends on one hash, and E earns nothing.
 */
describe("roles: an equivocating author", async () => {
  const [h1, h2, e, v] = testPeers(4);
  const registry = [h1, h2, e];
  const theta0 = randomParams(1);
  const target = randomParams(99);
  const s0 = stateOf(0, theta0);
  const V = await keeperFixture(registry, v, theta0);
  const P = await keeperFixture(registry, h1, theta0);
  const Q = await keeperFixture(registry, h2, theta0);
  after(async () => {
    for (const fx of [V, P, Q]) await fx.close();
  });

  const u1 = updateFrom(theta0, 1, { target, part: 0, of: 3 });
  const u2 = updateFrom(theta0, 2, { target, part: 1, of: 3 });
  const ev1 = updateFrom(theta0, 3, { target, part: 2, of: 3 });
  const ev2 = updateFrom(theta0, 4); // E's second, different update of the same round
  for (const fx of [V, P, Q]) {
    fx.p2p.announce(h1, 0, s0.hash, u1.payload);
    fx.p2p.announce(h2, 0, s0.hash, u2.payload);
  }
  V.p2p.announce(e, 0, s0.hash, ev1.payload);
  Q.p2p.announce(e, 0, s0.hash, ev1.payload);
  P.p2p.announce(e, 0, s0.hash, ev2.payload);
  // V and Q also received version 2 (from E itself): node/p2p proves the equivocation to their inboxes
  V.p2p.equivocate(e, 0);
  Q.p2p.equivocate(e, 0);

  const scorer = testScorer(distanceEngine(target));

  it("is excluded and scored 0 by the validator; honest peers end on the validator's hash", async () => {
    // the validator's round: gather all, the outer step without E, then score
    const all = await V.keeper.gatherAll(0);
    assert.ok(
      all.gathered.some((g) => g.address === e.address),
      "E's first version is fetched (for the score)",
    );
    const used = await V.keeper.forStep(s0, all.gathered);
    assert.deepEqual(used.map((g) => g.address).sort(), [h1.address, h2.address].sort(), "E is not aggregated");
    const next = V.keeper.step(s0, used).next;
    const { verdicts } = await scorer.score(
      s0,
      { received: V.keeper.received(0), ...all, equivocators: V.keeper.equivocators(0) },
      "seed",
    );
    assert.equal(verdicts.get(e.address)?.components.reason, "equivocation");
    assert.equal(verdicts.get(e.address)?.components.final, 0);
    for (const h of [h1, h2]) assert.ok(verdicts.get(h.address)!.components.final > 0, "honest peers are paid");

    // Q saw the proof: its own gather leaves E out and reaches V's hash
    const q = await Q.keeper.gather(s0);
    assert.equal(Q.keeper.step(s0, q.gathered).next.hash, next.hash);

    // P saw only version 2: its outer step differs until the chain finalizes V's submission
    const p = await P.keeper.gather(s0);
    const pNext = P.keeper.step(s0, p.gathered).next;
    assert.notEqual(pNext.hash, next.hash);
    const payloads = used.map((g) => ({
      index: registry.findIndex((x) => x.address === g.address),
      hash: g.payloadHash,
    }));
    for (const fx of [P, Q]) fx.chain.finalize(0, next.hash, payloads);
    const repaired = await P.keeper.catchUp(pNext, s0);
    assert.equal(repaired.round, 1);
    assert.equal(repaired.hash, next.hash, "P replays the chain's included set (without E)");
  });
});
