import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ComponentFlag,
  checkValidity,
  combineScore,
  contractScore,
  countIntersection,
  detectCopies,
  detectCopy,
  encodeComponents,
  gainFactor,
  heldOutGain,
  ownSampleGain,
  indexOverlap,
  l2Norm,
  medianNormBound,
  newRating,
  ordinal,
  ownVsHeldOutGain,
  packComponents,
  type PeerRating,
  proofOfTraining,
  ratingFactor,
  ratingObservation,
  type ScoreInputs,
  ScoringError,
  syncScore,
  toUint16Score,
  unpackComponents,
  updateBma,
  updateRatings,
} from "../../node/scoring/index.ts";
import { prng } from "../fixtures/prng.ts";

/** k distinct sorted indices per 4096-chunk of an n-element tensor, like SparseLoCo's top-k. */
function topkLike(n: number, k: number, rnd: () => number): Uint32Array {
  const out: number[] = [];
  for (let c = 0; c < n; c += 4096) {
    const chosen = new Set<number>();
    while (chosen.size < k) chosen.add(c + Math.floor(rnd() * Math.min(4096, n - c)));
    out.push(...[...chosen].sort((x, y) => x - y));
  }
  return Uint32Array.from(out);
}

describe("scoring: gains and proof of training", () => {
  it("ownSampleGain is the lower median of per-sample gains: a memorised minority does not move it", () => {
    const before = [4, 4, 4, 4, 4];
    assert.ok(Math.abs(ownSampleGain(before, [3.6, 3.6, 3.6, 3.6, 3.6]) - 0.1) < 1e-12);
    // two of five samples memorised (loss 4 → 0.4): a mean gain of 0.42, the median stays 0.1
    const after = [0.4, 0.4, 3.6, 3.6, 3.6];
    assert.ok(Math.abs(ownSampleGain(before, after) - 0.1) < 1e-12);
    assert.ok(Math.abs(heldOutGain(4, after.reduce((a, b) => a + b) / 5) - 0.42) < 1e-12, "what a mean gave");
    // lower median of an even count; a blown-up sample is -Infinity, not NaN
    assert.ok(Math.abs(ownSampleGain([4, 4, 4, 4], [3.6, 3.2, 2, Number.NaN]) - 0.1) < 1e-12);
    assert.throws(() => ownSampleGain([4, 4], [3]), ScoringError);
    assert.throws(() => ownSampleGain([], []), ScoringError);
  });

  it("heldOutGain is the relative improvement and rejects a bad base loss", () => {
    assert.equal(heldOutGain(4, 3), 0.25);
    assert.equal(heldOutGain(4, 5), -0.25);
    assert.equal(heldOutGain(2, 2), 0);
    assert.equal(heldOutGain(3, Number.NaN), Number.NEGATIVE_INFINITY);
    assert.throws(
      () => heldOutGain(0, 1),
      (e: unknown) => e instanceof ScoringError && e.code === "BAD_LOSS",
    );
    assert.throws(() => heldOutGain(Number.POSITIVE_INFINITY, 1), ScoringError);
  });

  it("binary proof of training is +1 only when the own-data gain beats the held-out gain", () => {
    assert.equal(proofOfTraining(0.02, 0.01), 1);
    assert.equal(proofOfTraining(0.01, 0.01), -1);
    assert.equal(proofOfTraining(0.005, 0.01), -1);
    assert.equal(proofOfTraining(Number.NaN, 0.01), -1);
    const r = ownVsHeldOutGain({ before: 4, after: 3.6 }, { before: 4, after: 3.8 });
    assert.ok(Math.abs(r.ownGain - 0.1) < 1e-12 && Math.abs(r.heldOutGain - 0.05) < 1e-12);
    assert.equal(r.proof, 1);
  });

  it("continuous proof of training is the signed relative margin", () => {
    assert.equal(proofOfTraining(0.02, 0.01, "continuous"), 0.5);
    assert.equal(proofOfTraining(0.01, 0.02, "continuous"), -0.5);
    assert.equal(proofOfTraining(0.01, 0.01, "continuous"), 0);
    assert.equal(proofOfTraining(0.01, -0.01, "continuous"), 1);
    assert.equal(proofOfTraining(0.01, Number.NEGATIVE_INFINITY, "continuous"), 1);
  });

  it("BMA moves 5 % towards each proof", () => {
    assert.ok(Math.abs(updateBma(0, 1) - 0.05) < 1e-12);
    let b = 0;
    for (let i = 0; i < 10; i++) b = updateBma(b, 1);
    assert.ok(Math.abs(b - (1 - 0.95 ** 10)) < 1e-12);
  });
});

describe("scoring: sync", () => {
  it("is 1 only for the exact hash (case and 0x ignored)", () => {
    const h = "ab".repeat(32);
    assert.equal(syncScore(h, h), 1);
    assert.equal(syncScore("0x" + h.toUpperCase(), h), 1);
    assert.equal(syncScore("ab".repeat(31) + "ac", h), 0);
    assert.equal(syncScore("", h), 0);
    assert.throws(() => syncScore(h, ""), ScoringError);
  });
});

describe("scoring: index overlap and copy detection", () => {
  it("counts the intersection of sorted arrays with a merge walk", () => {
    assert.equal(countIntersection(Uint32Array.of(1, 3, 5, 7), Uint32Array.of(0, 3, 4, 7, 9)), 2);
    assert.equal(countIntersection(Int32Array.of(), Int32Array.of(1)), 0);
    assert.equal(countIntersection(Int32Array.of(-5, 0, 2), Int32Array.of(-5, 2)), 2);
  });

  it("weights tensors by their number of chosen coordinates", () => {
    const a = new Map([
      ["big", Uint32Array.from({ length: 90 }, (_, i) => i)],
      ["small", Uint32Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)],
    ]);
    const b = new Map([["big", Uint32Array.from({ length: 90 }, (_, i) => i * 2)]]); // shares 45 of big
    assert.equal(indexOverlap(a, b), 45 / 100);
    assert.equal(indexOverlap(a, a), 1);
    assert.equal(indexOverlap(new Map(), a), 0);
  });

  it("unrelated top-k updates overlap by chance only; a perturbed copy is caught and the earlier one keeps credit", () => {
    const rnd = prng(7);
    const n = 256 * 1024;
    const honestA = new Map([["w", topkLike(n, 64, rnd)]]);
    const honestB = new Map([["w", topkLike(n, 64, rnd)]]);
    const chance = indexOverlap(honestA, honestB);
    assert.ok(chance < 0.05, `chance overlap ${chance}`);
    // copier: keeps 60 % of A's indices, replaces the rest
    const a = honestA.get("w")!;
    const mixed = new Set<number>();
    for (let i = 0; i < a.length; i++) mixed.add(rnd() < 0.6 ? a[i] : Math.floor(rnd() * n));
    const copier = new Map([["w", Uint32Array.from([...mixed].sort((x, y) => x - y))]]);
    const ov = indexOverlap(copier, honestA);
    assert.ok(ov > 0.55 && ov < 0.7, `copy overlap ${ov}`);

    const updates = [
      { id: "0xa", indices: honestA },
      { id: "0xb", indices: honestB },
      { id: "0xc", indices: copier },
    ];
    assert.deepEqual(detectCopy(updates[2], updates.slice(0, 2))?.copyOf, "0xa");
    assert.equal(detectCopy(updates[1], updates.slice(0, 1)), null);
    assert.equal(detectCopy(updates[2], updates.slice(0, 2), 0.9), null);
    const all = detectCopies(updates);
    assert.deepEqual([...all.keys()], ["0xc"]);
    // a copy of the copy announced later is caught too
    const all2 = detectCopies([...updates, { id: "0xd", indices: copier }]);
    assert.equal(all2.get("0xd")?.copyOf, "0xc");
    assert.equal(all2.get("0xd")?.overlap, 1);
  });
});

describe("scoring: validity", () => {
  it("accepts a finite update within bounds and names the reason otherwise", () => {
    const t = [Float32Array.of(3, 4)];
    assert.deepEqual(checkValidity({ tensors: t }), { valid: true, norm: 5 });
    assert.equal(checkValidity({ decodeError: new Error("bad") }).reason, "decode_failed");
    assert.equal(checkValidity({}).reason, "decode_failed");
    assert.equal(checkValidity({ tensors: [] }).reason, "empty");
    assert.equal(checkValidity({ tensors: [Float32Array.of(1, Number.NaN)] }).reason, "non_finite");
    assert.equal(checkValidity({ tensors: [Float32Array.of(1, Number.POSITIVE_INFINITY)] }).reason, "non_finite");
    assert.equal(checkValidity({ tensors: t }, { maxNorm: 4.9 }).reason, "norm_too_large");
    assert.equal(checkValidity({ tensors: t }, { maxNorm: 10, minNorm: 6 }).reason, "norm_too_small");
    assert.equal(checkValidity({ tensors: t, indices: [Uint32Array.of(1, 1)] }).reason, "unsorted_indices");
    assert.equal(l2Norm([Float32Array.of(1e30, 1e30)]), Math.SQRT2 * Number(Math.fround(1e30)));
  });

  it("derives a bound from the round's median norm", () => {
    assert.equal(medianNormBound([1, 3, 2, Number.NaN], 10).maxNorm, 20);
    assert.equal(medianNormBound([1, 2, 3, 4], 2).maxNorm, 4); // the lower median, as the outer step clips
    assert.equal(medianNormBound([]).maxNorm, Number.POSITIVE_INFINITY);
  });
});

describe("scoring: combine and encode", () => {
  const good: ScoreInputs = {
    present: true,
    valid: true,
    sync: 1,
    copyOf: null,
    heldOutGain: 0.01,
    ownGain: 0.02,
    proof: 1,
  };

  it("is zero when missing, invalid, out of sync or a copy, and gain × proof factor otherwise", () => {
    assert.equal(combineScore(good).final, 0.5);
    assert.equal(combineScore(good).reason, "ok");
    assert.equal(combineScore({ ...good, present: false }).reason, "missing");
    assert.equal(combineScore({ ...good, valid: false, invalidReason: "non_finite" }).reason, "invalid:non_finite");
    assert.equal(combineScore({ ...good, sync: 0 }).reason, "out_of_sync");
    assert.equal(combineScore({ ...good, copyOf: "0xa" }).reason, "copy");
    for (const bad of [{ present: false }, { valid: false }, { sync: 0 as const }, { copyOf: "0xa" }])
      assert.equal(combineScore({ ...good, ...bad }).final, 0);
    assert.equal(combineScore({ ...good, proof: -1 }).final, 0);
    assert.equal(combineScore({ ...good, proof: -1 }).reason, "no_gain");
    assert.equal(combineScore({ ...good, heldOutGain: -0.01 }).final, 0);
    assert.equal(combineScore({ ...good, heldOutGain: Number.NEGATIVE_INFINITY }).final, 0);
    assert.equal(combineScore({ ...good, proof: 0 }).final, 0.25);
    assert.ok(combineScore({ ...good, heldOutGain: 0.03 }).final > combineScore(good).final);
    assert.ok(gainFactor(1e9) < 1 && gainFactor(1e9) > 0.99);
  });

  it("maps to uint16 and packs components losslessly", () => {
    assert.equal(toUint16Score(0), 0);
    assert.equal(toUint16Score(1), 65535);
    assert.equal(toUint16Score(0.5), 32768);
    assert.equal(toUint16Score(-3), 0);
    assert.equal(toUint16Score(7), 65535);
    assert.equal(toUint16Score(Number.NaN), 0);
    const c = combineScore({ ...good, heldOutGain: -0.0123456, proof: 1, copyOf: "0xa" });
    const e = encodeComponents(c);
    assert.deepEqual(e, {
      final: 0,
      heldOutGainPpm: -12346,
      ownGainPpm: 20000,
      flags: ComponentFlag.valid | ComponentFlag.sync | ComponentFlag.copy | ComponentFlag.proofPositive,
    });
    assert.deepEqual(unpackComponents(packComponents(e)), e);
    const e2 = encodeComponents(combineScore({ ...good, heldOutGain: 1e9 }));
    assert.equal(e2.heldOutGainPpm, 2 ** 31 - 1);
    assert.deepEqual(unpackComponents(packComponents(e2)), e2);
    assert.ok(packComponents(e2) < 1n << 88n);
  });
});

describe("scoring: ratings", () => {
  it("ranks peers by their round gains with Plackett-Luce and leaves absent peers alone", () => {
    let ratings = new Map<string, PeerRating>();
    const absent: PeerRating = { ...newRating(), mu: 30, lastRound: 0, rounds: 1 };
    ratings.set("0xzz", absent);
    for (let round = 1; round <= 5; round++) {
      ratings = updateRatings(
        ratings,
        new Map<string, number | { score: number; proof: number }>([
          ["0xb", { score: 0.01, proof: 1 }],
          ["0xa", { score: 0.02, proof: 1 }],
          ["0xc", { score: -99, proof: -1 }],
        ]),
        { round },
      );
    }
    const a = ratings.get("0xa")!;
    const b = ratings.get("0xb")!;
    const c = ratings.get("0xc")!;
    assert.ok(ordinal(a) > ordinal(b) && ordinal(b) > ordinal(c), `${ordinal(a)} ${ordinal(b)} ${ordinal(c)}`);
    assert.ok(a.sigma < newRating().sigma);
    assert.equal(a.rounds, 5);
    assert.equal(a.lastRound, 5);
    assert.ok(Math.abs(a.bma - (1 - 0.95 ** 5)) < 1e-12);
    assert.ok(c.bma < 0);
    assert.deepEqual(ratings.get("0xzz"), absent);
  });

  it("is independent of map order and does not mutate its input", () => {
    const base = new Map([["0xa", newRating()]]);
    const snapshot = structuredClone(base);
    const r1 = updateRatings(
      base,
      new Map([
        ["0xa", 1],
        ["0xb", 2],
      ]),
      { round: 1 },
    );
    const r2 = updateRatings(
      base,
      new Map([
        ["0xb", 2],
        ["0xa", 1],
      ]),
      { round: 1 },
    );
    assert.deepEqual(r1.get("0xa"), r2.get("0xa"));
    assert.deepEqual(base, snapshot);
    // one peer alone: no game, but the round is counted
    const solo = updateRatings(new Map(), new Map([["0xa", 1]]), { round: 3 });
    assert.deepEqual(
      { mu: solo.get("0xa")!.mu, rounds: solo.get("0xa")!.rounds, lastRound: solo.get("0xa")!.lastRound },
      { mu: 25, rounds: 1, lastRound: 3 },
    );
  });

  it("turns components into OpenSkill observations (disqualified = -99)", () => {
    const good: ScoreInputs = {
      present: true,
      valid: true,
      sync: 1,
      copyOf: null,
      heldOutGain: 0.01,
      ownGain: 0.02,
      proof: 1,
    };
    assert.deepEqual(ratingObservation(combineScore(good)), { score: 0.01, proof: 1 });
    assert.deepEqual(ratingObservation(combineScore({ ...good, heldOutGain: -0.02, proof: -1 })), {
      score: -0.02,
      proof: -1,
    });
    assert.deepEqual(ratingObservation(combineScore({ ...good, sync: 0 })), { score: -99, proof: 1 });
    assert.deepEqual(ratingObservation(combineScore({ ...good, present: false })), { score: -99 });
  });

  it("contract score = round score × rating factor, gated by the BMA after 10 rounds", () => {
    assert.equal(ordinal(newRating()), 0);
    assert.equal(ratingFactor(0), 0.5);
    assert.equal(contractScore(0.8, undefined), 0.4);
    assert.equal(contractScore(0, newRating()), 0);
    const strong: PeerRating = { mu: 40, sigma: 5, bma: 0.5, rounds: 20, lastRound: 20 };
    assert.ok(contractScore(0.8, strong) > 0.7);
    assert.equal(contractScore(0.8, { ...strong, bma: 0.05 }), 0);
    assert.ok(contractScore(0.8, { ...strong, bma: 0.05, rounds: 9 }) > 0);
  });
});
