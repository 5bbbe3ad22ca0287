import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseHash32, sha256 } from "../../node/hash/index.ts";
import { buildAnnouncement } from "../../node/roles/announcement.ts";
import type { Dropped, Gathered } from "../../node/roles/inbox.ts";
import { Scorer } from "../../node/roles/scorer.ts";
import { type ModelUpdate, type ParamMap, encodeUpdate } from "../../node/sparseloco/index.ts";
import { SPECS, randomParams, stateOf, testPeers, tinyDataset, updateFrom } from "../fixtures/roles.ts";

/**
 * The validator's Scorer (node/roles/scorer.ts) on sparse updates, with an engine whose "loss" is the
 * squared distance to a target model: an update toward the target gains, a copy, a replay, an outlier
 * norm, a wrong base and a missing or undecodable update score as DESIGN step 6 says.
 */
describe("roles: scoring", () => {
  const target = randomParams(99);
  const theta = randomParams(1);
  const state = stateOf(3, theta);
  const engine = {
    async evaluate(params: ParamMap): Promise<number> {
      let s = 0;
      for (const [k, v] of params) {
        const t = target.get(k)!;
        for (let i = 0; i < v.length; i++) s += (v[i] - t[i]) ** 2;
      }
      return 1 + s;
    },
  };
  const scorer = new Scorer(
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
    { engine, dataset: tinyDataset(), specs: SPECS, metrics: null },
  );
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
    assert.equal(lossBefore, await engine.evaluate(theta));
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
});
