import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PeerScore, createPeerScoreParams } from "@libp2p/gossipsub/score";
import { defaultLogger } from "@libp2p/logger";
import { cotrainPeerScoreParams, cotrainScoreThresholds } from "../../node/p2p/scoring.ts";

/**
 * Gossipsub's own score arithmetic (its PeerScore) under cotrain's parameters (node/p2p/scoring.ts).
 * P6, IP colocation: with gossipsub's default, more than 10 peers on one IP are all graylisted — home
 * peers behind one NAT, every peer reached through one relay, or (tests/e2e/hostile.test.ts) 7 honest
 * peers sharing 127.0.0.1 with 20 unregistered attackers.
 */
describe("p2p: peer score parameters", () => {
  function scoresOnOneIp(params: Parameters<typeof createPeerScoreParams>[0], peers: number): number[] {
    const score = new PeerScore(createPeerScoreParams(params), null, defaultLogger(), { scoreCacheValidityMs: 0 });
    const ids = Array.from({ length: peers }, (_, i) => `peer-${i}`);
    for (const id of ids) {
      score.addPeer(id);
      score.addIP(id, "203.0.113.7");
    }
    return ids.map((id) => score.score(id));
  }

  it("27 peers behind one IP keep a neutral score (P6 off); under gossipsub's default P6 all are graylisted", () => {
    const ours = scoresOnOneIp(
      cotrainPeerScoreParams("run", () => 0),
      27,
    );
    assert.ok(
      ours.every((s) => s === 0),
      `cotrain: ${ours}`,
    );
    const { IPColocationFactorWeight: _off, ...withDefaultP6 } = cotrainPeerScoreParams("run", () => 0);
    const defaults = scoresOnOneIp(withDefaultP6, 27);
    assert.ok(
      defaults.every((s) => s < cotrainScoreThresholds.graylistThreshold!),
      `default P6: ${defaults.slice(0, 3)}`,
    );
  });

  it("an application penalty still counts in full (P5, weight 1)", () => {
    const [s] = scoresOnOneIp(
      cotrainPeerScoreParams("run", () => -90),
      1,
    );
    assert.equal(s, -90);
  });
});
