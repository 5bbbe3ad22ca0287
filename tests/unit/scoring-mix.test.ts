import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type IndexedUpdate, coverBy, detectCopies, detectCopy, indexOverlap } from "../../node/scoring/index.ts";
import {
  type ParamMap,
  type SparseUpdate,
  decompressTensor,
  makeUpdate,
  numel,
  selectedCoordinates,
  zeroErrorFeedback,
} from "../../node/sparseloco/index.ts";
import { prng, randomTensor, specsOf } from "./sparseloco-helpers.ts";

/**
 * Copy and mix detection (node/scoring/overlap.ts `detectCopies`) on real SparseLoCo updates: top-32 of
 * every 32×32 chunk (3.1 % of the coordinates, twice the production density, so chance overlaps are
 * larger than in a real run), 2-bit values, built by `makeUpdate` exactly as a peer builds them.
 */
describe("scoring: copy and mix detection on real compressed updates", () => {
  const specs = specsOf([
    [128, 128],
    [96, 64],
  ]);
  const opts = { topk: 32, targetChunk: 32, beta: 0.95 };
  const sizes = new Map(specs.map((s) => [s.name, numel(s.shape)]));
  const rnd = prng(16);
  const theta: ParamMap = new Map(specs.map((s) => [s.name, randomTensor(numel(s.shape), rnd, 0.1)]));

  /** θ_end = θ − Δ, compressed with a zero error-feedback buffer (a peer's first round). */
  const updateOf = (delta: ParamMap): SparseUpdate => {
    const end: ParamMap = new Map([...theta].map(([k, v]) => [k, v.map((x, i) => x - delta.get(k)![i])]));
    return makeUpdate(theta, end, zeroErrorFeedback(specs, theta), specs, opts).update.tensors;
  };
  const honest = (seed: number) => {
    const r = prng(1000 + seed);
    return updateOf(new Map(specs.map((s) => [s.name, randomTensor(numel(s.shape), r, 1e-3)])));
  };
  const dense = (u: SparseUpdate): ParamMap => new Map(specs.map((s) => [s.name, decompressTensor(u.get(s.name)!, s)]));
  /**
   * What a mixer sends: the recompressed sum of other peers' decoded updates, each scaled to the same
   * largest value and jittered so the top-k takes about k/m coordinates from each of the m sources (an
   * unscaled sum favours the source with the largest 2-bit values and overlaps it ≥ 0.4), plus noise.
   */
  const mixOf = (sources: SparseUpdate[], noise = 0) => {
    const r = prng(77);
    const sum: ParamMap = new Map(specs.map((s) => [s.name, randomTensor(numel(s.shape), r, noise)]));
    for (const u of sources)
      for (const [k, v] of dense(u)) {
        const max = v.reduce((a, x) => Math.max(a, Math.abs(x)), 0) || 1;
        const out = sum.get(k)!;
        for (let i = 0; i < v.length; i++) out[i] += (1e-3 * v[i] * (1 + 0.05 * r())) / max;
      }
    return updateOf(sum);
  };
  const indexed = (id: string, u: SparseUpdate): IndexedUpdate => ({ id, indices: selectedCoordinates(u, specs) });
  const peers = Array.from({ length: 8 }, (_, i) => indexed(`0x${i}`, honest(i)));

  it("an honest pair, and 8 honest updates in a row, are never flagged", () => {
    assert.equal(detectCopies(peers.slice(0, 2), 0.4, sizes).size, 0);
    assert.ok(indexOverlap(peers[1].indices, peers[0].indices) < 0.1);
    assert.equal(detectCopies(peers, 0.4, sizes).size, 0);
  });

  it("41 honest updates in a row are never flagged, though all earlier ones together cover much of the last", () => {
    const many = Array.from({ length: 40 }, (_, i) => indexed(`0xh${i}`, honest(100 + i)));
    const last = indexed("0xlast", honest(999));
    assert.equal(detectCopies([...many, last], 0.4, sizes).size, 0);
    // what a union over every earlier update would see (40 at 3.1 % density cover ~72 %), and the bound used
    assert.ok(
      coverBy(
        last.indices,
        many.map((m) => m.indices),
      ) > 0.6,
    );
    assert.ok(
      coverBy(
        last.indices,
        many.slice(0, 8).map((m) => m.indices),
      ) < 0.4,
    );
  });

  it("an exact copy and a lightly perturbed copy are flagged; the earlier announcer keeps credit", () => {
    const source = honest(3);
    const exact = { id: "0xcopy", indices: peers[3].indices };
    const perturbed = indexed("0xnoisy", mixOf([source], 2e-4));
    const verdicts = detectCopies([...peers, exact, perturbed], 0.4, sizes);
    assert.deepEqual([...verdicts.keys()].sort(), ["0xcopy", "0xnoisy"]);
    assert.equal(verdicts.get("0xcopy")?.copyOf, "0x3");
    assert.equal(verdicts.get("0xcopy")?.overlap, 1);
    // the perturbed copy shares most coordinates with both the original and the exact copy; the earlier wins ties
    assert.ok(["0x3", "0xcopy"].includes(verdicts.get("0xnoisy")!.copyOf));
    assert.ok(verdicts.get("0xnoisy")!.overlap > 0.6);
  });

  for (const m of [3, 5]) {
    it(`a mix of ${m} honest updates stays under the pairwise threshold but is flagged`, () => {
      const sources = [1, 2, 4, 5, 6].slice(0, m);
      const mix = indexed("0xmix", mixOf(sources.map((i) => honest(i))));
      for (const i of sources) {
        const pair = indexOverlap(mix.indices, peers[i].indices);
        assert.ok(pair < 0.4, `pairwise overlap with 0x${i} ${pair}`);
      }
      // the pairwise check alone misses it
      assert.equal(detectCopy(mix, peers, 0.4), null);
      const v = detectCopies([...peers, mix], 0.4, sizes).get("0xmix");
      assert.ok(v, "mix not flagged");
      assert.ok(v.cover > 0.9, `cover ${v.cover}`);
      assert.equal(v.sources, 8);
      assert.ok(sources.map((i) => `0x${i}`).includes(v.copyOf), v.copyOf);
      // announced before its sources it is not the copier: they are flagged instead only if they copied it
      assert.equal(detectCopies([mix, ...peers], 0.4, sizes).size, 0);
    });
  }

  it("a mixer with a little noise is flagged; one taking under 90 % of its coordinates from others is not", () => {
    const slight = indexed(
      "0xmix",
      mixOf(
        [1, 2, 4].map((i) => honest(i)),
        1e-4,
      ),
    );
    const v = detectCopies([...peers, slight], 0.4, sizes).get("0xmix");
    assert.ok(v && v.cover >= 0.9, `cover ${v?.cover}`);
    // the documented limit: dilution with its own coordinates below the mix cover escapes this check
    const diluted = indexed(
      "0xmix",
      mixOf(
        [1, 2, 4].map((i) => honest(i)),
        3e-3,
      ),
    );
    const c = coverBy(
      diluted.indices,
      [1, 2, 4].map((i) => peers[i].indices),
    );
    assert.ok(c < 0.9, `cover ${c}`);
    assert.equal(detectCopies([...peers, diluted], 0.4, sizes).size, 0);
  });
});
