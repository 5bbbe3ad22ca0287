import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sha256 } from "../../node/hash/index.ts";
import { buildAnnouncement } from "../../node/roles/announcement.ts";
import type { Gathered } from "../../node/roles/inbox.ts";
import {
  DENSE_COPY_AGREEMENT,
  DENSE_COPY_SAMPLE,
  denseLevels,
  densePositions,
  detectDenseCopies,
} from "../../node/scoring/index.ts";
import { type ModelUpdate, type SparseUpdate, encodeUpdate, roundCompression } from "../../node/sparseloco/index.ts";
import {
  OUTER,
  SPECS,
  distanceEngine,
  randomParams,
  stateOf,
  testPeers,
  testScorer,
  updateFrom,
} from "../fixtures/roles.ts";

/**
 * Copy detection in EF warm-up rounds (node/scoring/dense-copies.ts): every update keeps every
 * coordinate there, so index overlap cannot tell a copy; level agreement does, whatever the copier does to
 * its table, and honest updates toward one target stay below the threshold.
 */
describe("scoring: copies in EF warm-up rounds", () => {
  const dense = roundCompression({ ...OUTER, denseRounds: 4 }, 3);
  const target = randomParams(99);
  const theta = randomParams(1);
  const positions = densePositions(SPECS, "seed");
  const levels = (u: SparseUpdate) => denseLevels(u, SPECS, positions);

  /** `u` with its table reordered (codes remapped to match) and scaled: the same update, other bytes. */
  const disguised = (u: ModelUpdate): ModelUpdate => {
    const perm = [2, 0, 3, 1]; // new code of old code c
    const tensors: SparseUpdate = new Map(
      [...u.tensors].map(([k, t]) => {
        const table = new Float32Array(4);
        for (let c = 0; c < 4; c++) table[perm[c]] = t.table[c] * 1.5;
        return [k, { ...t, table, codes: t.codes.map((c) => perm[c]) }];
      }),
    );
    const payload = encodeUpdate(tensors);
    return { tensors, payload, payloadHash: sha256(payload) };
  };

  it("flags an exact or disguised copy, not honest updates of the same target", () => {
    assert.equal(positions.length, 64 * 128 + 32, "a small model is compared on every coordinate");
    const g1 = updateFrom(theta, 1, { target, part: 0, of: 3 }, dense);
    const g2 = updateFrom(theta, 2, { target, part: 1, of: 3 }, dense);
    const g3 = updateFrom(theta, 3, undefined, dense);
    const copy = disguised(g1);
    assert.notEqual(copy.payloadHash, g1.payloadHash);
    const verdicts = detectDenseCopies([
      { id: "g1", levels: levels(g1.tensors) },
      { id: "g2", levels: levels(g2.tensors) },
      { id: "g3", levels: levels(g3.tensors) },
      { id: "copy", levels: levels(copy.tensors) },
      { id: "again", levels: levels(g2.tensors) },
    ]);
    assert.deepEqual([...verdicts.keys()].sort(), ["again", "copy"]);
    assert.equal(verdicts.get("copy")!.copyOf, "g1");
    assert.equal(verdicts.get("copy")!.overlap, 1);
    assert.equal(verdicts.get("again")!.copyOf, "g2");
  });

  it("a copy with a tenth of its levels changed escapes; one with a twentieth does not", () => {
    const a = levels(updateFrom(theta, 1, { target, part: 0, of: 3 }, dense).tensors);
    const changed = (share: number) => a.map((x, i) => (i % Math.round(1 / share) === 0 ? (x % 4) + 1 : x));
    const flagged = (l: Uint8Array) =>
      detectDenseCopies([
        { id: "a", levels: a },
        { id: "b", levels: l },
      ]).has("b");
    assert.equal(flagged(changed(0.05)), true);
    assert.equal(flagged(changed(0.2)), false);
    assert.ok(DENSE_COPY_AGREEMENT > 0.73, "above the honest agreement measured on nano (0.51-0.73)");
  });

  it("samples a large model's coordinates from the seed, the same for every validator", () => {
    const big = [{ name: "w", shape: [1024, 1024] }];
    const p = densePositions(big, "s1");
    assert.equal(p.length, DENSE_COPY_SAMPLE);
    assert.deepEqual(densePositions(big, "s1"), p);
    assert.notDeepEqual(densePositions(big, "s2"), p);
    for (let i = 1; i < p.length; i++) assert.ok(p[i - 1] <= p[i]);
  });

  it("the Scorer pays the original, not the copier, in a warm-up round", async () => {
    const state = stateOf(3, theta);
    const scorer = testScorer(distanceEngine(target), undefined, { denseRounds: 4 });
    const [good1, good2, copier] = testPeers(3);
    let clock = 0;
    const gathered = (p: typeof good1, u: ModelUpdate): Gathered => {
      const ann = {
        runId: "test",
        multiaddrs: [],
        ...buildAnnouncement({ round: 3, baseModelHash: state.hash, payloadHash: u.payloadHash, payload: u.payload }),
      };
      return {
        round: 3,
        ...p,
        ann,
        receivedAt: clock++,
        payloadHash: u.payloadHash,
        bytes: u.payload,
        update: u.tensors,
      };
    };
    const g1 = updateFrom(theta, 1, { target, part: 0, of: 2 }, dense);
    const list = [
      gathered(good1, g1),
      gathered(good2, updateFrom(theta, 2, { target, part: 1, of: 2 }, dense)),
      gathered(copier, disguised(g1)),
    ];
    const { verdicts } = await scorer.score(state, { received: list, gathered: list, dropped: [] }, "seed");
    for (const p of [good1, good2]) {
      assert.equal(verdicts.get(p.address)!.components.reason, "ok", p.address);
      assert.ok(verdicts.get(p.address)!.components.final > 0, p.address);
    }
    assert.equal(verdicts.get(copier.address)!.components.reason, "copy");
    assert.equal(verdicts.get(copier.address)!.components.final, 0);

    // The same three updates in a round after the warm-up: index overlap sees nothing in dense
    // tensors, which is why warm-up rounds need their own check.
    const after = testScorer(distanceEngine(target), undefined, { denseRounds: 3 });
    const res = await after.score(state, { received: list, gathered: list, dropped: [] }, "seed");
    assert.equal(res.verdicts.get(copier.address)!.components.reason, "ok");
  });
});
