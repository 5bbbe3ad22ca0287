import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { randomIdentity } from "../../node/identity/index.ts";
import { type Equivocation, EquivocationRecord } from "../../node/p2p/index.ts";

/** node/p2p/equivocation.ts: the proof record is bounded (one per author and round, retained rounds only). */
describe("p2p: equivocation record", () => {
  const proof = (round: number, id = randomIdentity()): Equivocation => {
    const env = { from: id.peerId.toString(), data: new Uint8Array([round]), seqno: new Uint8Array(8), topic: "t" };
    return {
      round,
      author: { peerId: id.peerId, address: id.address },
      envelopes: [
        { ...env, signature: new Uint8Array(64) },
        { ...env, data: new Uint8Array([round, 1]), signature: new Uint8Array(64) },
      ],
    };
  };

  it("keeps one proof per author and round, and only the newest retained rounds", () => {
    const rec = new EquivocationRecord(3);
    const liar = randomIdentity();
    assert.equal(rec.add(proof(10, liar)), true);
    assert.equal(rec.add(proof(10, liar)), false, "a third version adds nothing");
    assert.equal(rec.add(proof(10)), true, "another author of the same round");
    assert.equal(rec.add(proof(11, liar)), true, "the same author in another round");
    assert.equal(rec.of(10).length, 2);
    assert.equal(rec.add(proof(13)), true);
    assert.equal(rec.of(10).length, 0, "round 10 is older than the 3 retained rounds");
    assert.equal(rec.of(11).length, 1);
    assert.equal(rec.add(proof(9)), false, "older than the window: not kept");
    assert.equal(rec.of(9).length, 0);
  });
});
