import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { weightedMedian } from "../../node/chain/consensus.ts";
import { ScoreBook } from "../../node/roles/score-book.ts";
import type { PeerVerdict } from "../../node/roles/scorer.ts";
import {
  type ScoreInputs,
  chainComponentsFromScore,
  combineScore,
  contractScore,
  detectCopies,
  heldOutGain,
  ownSampleGain,
  proofGateFloor,
  proofMean,
  proofOfTraining,
} from "../../node/scoring/index.ts";
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
 * Issue 16, "scoring that cannot be gamed cheaply": 4 honest peers and one peer per gaming strategy over
 * 20 rounds, through the validator's real scoring path — copy/mix detection on real compressed updates
 * (`detectCopies`), `heldOutGain`/`proofOfTraining` on the losses a validator would measure,
 * `combineScore`, the ScoreBook (OpenSkill ratings, proof average, the round's proof gate,
 * `contractScore`, uint16) — then the contract's reward rule (docs/contract.md "Finalize": the
 * stake-weighted median of the submitted scores, JS reference `weightedMedian`, one validator here;
 * `rewardPerRound` pro rata to the medians, floor-divided).
 *
 * The losses are a model, not measured (stated so in docs/security.md): θ_r's loss L0 = 3.5 on held-out
 * and own samples; an honest update's relative held-out gain is 1 % ± 30 % (relative sd), its gain on
 * its own samples is the held-out gain × (1 + margin) plus independent noise of the same size. Two
 * regimes: "informative" (margin 0.3: training on a sample helps it a little more than an unseen one)
 * and "noise only" (margin 0: own and held-out gains differ by noise alone, the case the issue names).
 */
const L0 = 3.5;
const ROUNDS = 20;
const REWARD = 100_000n;

function gaussian(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}

/** The losses a validator measures for an update: held-out and own samples, before and after. */
function measured(held: number, own: number): Pick<ScoreInputs, "heldOutGain" | "ownGain" | "proof"> {
  const h = heldOutGain(L0, L0 * (1 - held));
  const o = heldOutGain(L0, L0 * (1 - own));
  return { heldOutGain: h, ownGain: o, proof: proofOfTraining(o, h, "continuous") };
}

const clean = { present: true, valid: true, sync: 1 as const, copyOf: null };

// Real SparseLoCo updates for the copy and mix checks: top-16 of every 32×32 chunk of a 64×96 tensor.
const specs = specsOf([[64, 96]]);
const sparse = { topk: 16, targetChunk: 32, beta: 0.95 };
const sizes = new Map(specs.map((s) => [s.name, numel(s.shape)]));
const theta: ParamMap = new Map(specs.map((s) => [s.name, randomTensor(numel(s.shape), prng(5), 0.1)]));
function compress(delta: ParamMap): SparseUpdate {
  const end: ParamMap = new Map([...theta].map(([k, v]) => [k, v.map((x, i) => x - delta.get(k)![i])]));
  return makeUpdate(theta, end, zeroErrorFeedback(specs, theta), specs, sparse).update.tensors;
}
function randomDelta(rnd: () => number): ParamMap {
  return new Map(specs.map((s) => [s.name, randomTensor(numel(s.shape), rnd, 1e-3)]));
}
/** A mixer's update: the recompressed sum of others' decoded updates, each scaled to the same peak. */
function mix(sources: SparseUpdate[], rnd: () => number): SparseUpdate {
  const sum: ParamMap = new Map(specs.map((s) => [s.name, new Float32Array(numel(s.shape))]));
  for (const u of sources)
    for (const s of specs) {
      const v = decompressTensor(u.get(s.name)!, s);
      const max = v.reduce((a, x) => Math.max(a, Math.abs(x)), 0) || 1;
      const out = sum.get(s.name)!;
      for (let i = 0; i < v.length; i++) out[i] += (1e-3 * v[i] * (1 + 0.05 * rnd())) / max;
    }
  return compress(sum);
}

const HONEST = ["h0", "h1", "h2", "h3"];
const GAMERS = ["freerider", "copier", "mixer", "late", "overfitter"] as const;

interface Outcome {
  paid: Map<string, bigint>;
  total: bigint;
  /** Honest peer-rounds scored 0 on chain although their round score was positive. */
  honestZeroed: number;
  /** The same under Templar's fixed gate (raw BMA < 0.1 after 10 rounds), for comparison. */
  templarZeroed: number;
}

async function simulate(margin: number, seed: number): Promise<Outcome> {
  const rnd = prng(seed);
  const book = new ScoreBook({ ratings: { all: async () => new Map(), commitRound: async () => {} } });
  const peers = [...HONEST, ...GAMERS];
  const paid = new Map(peers.map((p) => [p, 0n]));
  let total = 0n;
  let honestZeroed = 0;
  let templarZeroed = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const inputs = new Map<string, ScoreInputs>();
    // honest: independent updates, gains with noise
    const honestUpdates = HONEST.map(() => compress(randomDelta(rnd)));
    let gainSum = 0;
    for (const p of HONEST) {
      const held = 0.01 * (1 + 0.3 * gaussian(rnd));
      gainSum += held;
      const own = held * (1 + margin) + 0.01 * 0.3 * gaussian(rnd);
      inputs.set(p, { ...clean, ...measured(held, own) });
    }
    const honestMean = gainSum / HONEST.length;
    // free-rider: a zero update, θ − η·0 = θ: no gain anywhere
    inputs.set("freerider", { ...clean, ...measured(0, 0) });
    // copier, mixer: announced after the honest peers; flagged (or not) by the real detector on real updates
    const order = [
      ...HONEST.map((id, i) => ({ id, indices: selectedCoordinates(honestUpdates[i], specs) })),
      { id: "copier", indices: selectedCoordinates(honestUpdates[0], specs) },
      { id: "mixer", indices: selectedCoordinates(mix(honestUpdates.slice(1), rnd), specs) },
    ];
    const copies = detectCopies(order, 0.4, sizes);
    for (const p of HONEST) assert.equal(copies.get(p), undefined, `honest ${p} flagged in round ${round}`);
    // had they not been caught, each would measure like the best honest update
    const best = measured(honestMean * 1.5, honestMean * 1.5 * (1 + margin));
    inputs.set("copier", { ...clean, ...best, copyOf: copies.get("copier")?.copyOf ?? null });
    inputs.set("mixer", { ...clean, ...best, copyOf: copies.get("mixer")?.copyOf ?? null });
    // late publisher: the average of every honest update, first seen after the arrival deadline
    inputs.set("late", { ...clean, ...best, late: true });
    // proof overfitter: trains only on the public first 16 samples of its 64; the validator draws 16 of the
    // 64 after the deadline, ~4 of them memorised (loss down 5× an honest gain), the rest generalise
    // like its held-out gain, which 16 samples seen 4 times make 0.3× an honest one. The validator's own
    // gain is the lower median of the 16 per-sample gains (ownSampleGain): the memorised few cannot carry it.
    const heldO = 0.3 * honestMean * (1 + 0.3 * gaussian(rnd));
    let memorised = 0;
    for (let d = 0, left = 16, pool = 64; d < 16; d++, pool--) if (rnd() < left / pool && left-- > 0) memorised++;
    const perSample = Array.from({ length: 16 }, (_, i) =>
      i < memorised ? 5 * honestMean : heldO * (1 + 0.3 * gaussian(rnd)),
    );
    const ownO = ownSampleGain(
      perSample.map(() => L0),
      perSample.map((g) => L0 * (1 - g)),
    );
    inputs.set("overfitter", { ...clean, ...measured(heldO, ownO) });

    const verdicts = new Map<string, PeerVerdict>();
    for (const [address, x] of inputs) {
      const components = combineScore(x);
      verdicts.set(address, {
        address,
        components,
        chain: chainComponentsFromScore(components, { before: L0, after: null }),
        lossAfter: null,
      });
    }
    const { scores } = book.rate(round, verdicts, peers, L0);
    await book.commit(round, verdicts);
    // one validator: the stake-weighted median of its scores is its score
    const medians = scores.map((s) => weightedMedian([s], [1n]));
    const sum = medians.reduce((a, m) => a + BigInt(m), 0n);
    peers.forEach((p, i) => {
      const amount = sum === 0n ? 0n : (REWARD * BigInt(medians[i])) / sum;
      paid.set(p, paid.get(p)! + amount);
      total += amount;
    });
    const ratings = (book as unknown as { ratings: Map<string, { bma: number; rounds: number }> }).ratings;
    for (const [i, p] of peers.entries()) {
      if (!HONEST.includes(p) || !(verdicts.get(p)!.components.final > 0)) continue;
      if (medians[i] === 0) honestZeroed++;
      const r = ratings.get(p)!;
      if (r.rounds >= 10 && r.bma < 0.1) templarZeroed++;
    }
  }
  return { paid, total, honestZeroed, templarZeroed };
}

describe("scoring: gaming strategies against 4 honest peers over 20 rounds", () => {
  for (const [regime, margin] of [
    ["informative proof", 0.3],
    ["noise-only proof", 0],
  ] as const) {
    for (const seed of [1, 2, 3, 4]) {
      it(`${regime}, seed ${seed}: no honest peer is ever zeroed; free-rider, copier, mixer, late earn < 5 %`, async () => {
        const o = await simulate(margin, seed);
        const share = (p: string) => Number(o.paid.get(p)!) / Number(o.total);
        const shares = Object.fromEntries([...o.paid.keys()].map((p) => [p, +share(p).toFixed(4)]));
        assert.equal(o.honestZeroed, 0, JSON.stringify(shares));
        for (const p of HONEST) assert.ok(share(p) > 0.1, `${p} ${JSON.stringify(shares)}`);
        for (const g of GAMERS.filter((g) => g !== "overfitter"))
          assert.ok(share(g) < 0.05, `${g} earned ${share(g)}: ${JSON.stringify(shares)}`);
        console.log(JSON.stringify({ regime, seed, shares, templarZeroed: o.templarZeroed }));
      });
    }
    // The proof overfitter (docs/security.md "Gaming"): with the own gain a mean over the 16 drawn samples,
    // its ~4 memorised ones carried the proof and it earned 12-16 % here; with the per-sample median its
    // proof is that of an update that did not train on the rest, and it is paid for its held-out gain
    // (0.3x an honest one, full compute): 7-10 %. The issue's < 5 % is not reached for it; what holds is
    // that it earns less than every honest peer and less than the mean-based check let it.
    for (const seed of [1, 2, 3, 4])
      it(`${regime}, seed ${seed}: the proof overfitter earns < 11 % and less than every honest peer`, async () => {
        const o = await simulate(margin, seed);
        const share = (p: string) => Number(o.paid.get(p)!) / Number(o.total);
        assert.ok(share("overfitter") < 0.11, `overfitter ${share("overfitter")}`);
        for (const p of HONEST)
          assert.ok(share("overfitter") < share(p), `overfitter ${share("overfitter")} vs ${p} ${share(p)}`);
      });
  }
});

describe("scoring: the proof gate", () => {
  const rating = (bma: number, rounds = 20) => ({ mu: 30, sigma: 2, bma, rounds, lastRound: rounds - 1 });
  const corrected = (mean: number) => mean * (1 - 0.95 ** 20); // the raw BMA whose proofMean is `mean`

  it("zeroes a peer whose proof average is far below the round's (e.g. trained on the held-out split)", () => {
    const honest = [0.15, 0.2, 0.25, 0.18].map((m) => rating(corrected(m)));
    const heldOutTrainer = rating(corrected(-0.6));
    const floor = proofGateFloor([...honest, heldOutTrainer]);
    assert.ok(floor < 0 && floor > -0.6, `floor ${floor}`);
    assert.ok(approxEqual(proofMean(honest[0]), 0.15));
    for (const r of honest) assert.ok(contractScore(0.5, r, { proofFloor: floor }) > 0);
    assert.equal(contractScore(0.5, heldOutTrainer, { proofFloor: floor }), 0);
    // before bmaMinRounds nobody is gated; with fewer than 3 peers there is no reference
    assert.ok(contractScore(0.5, rating(corrected(-0.6), 9), { proofFloor: floor }) > 0);
    assert.equal(proofGateFloor(honest.slice(0, 2)), Number.NEGATIVE_INFINITY);
  });

  it("a majority of sybils with high proofs can at most restore Templar's floor of 0.1", () => {
    const sybils = Array.from({ length: 6 }, () => rating(corrected(0.95)));
    const honest = [0.12, 0.2].map((m) => rating(corrected(m)));
    assert.equal(proofGateFloor([...sybils, ...honest]), 0.1);
    for (const r of honest) assert.ok(contractScore(0.5, r, { proofFloor: 0.1 }) > 0);
  });
});

function approxEqual(a: number, b: number): boolean {
  return Math.abs(a - b) < 1e-9;
}
