import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { keccak256 } from "ethers";
import { MAX_SCORE } from "../../node/chain/encoding.ts";
import { roundOutcome, weightedMedian, withinBand } from "../../node/chain/consensus.ts";
import { prng } from "../fixtures/prng.ts";
import { HASH_A, HASH_B, ONE, decodeScores, deployRun, payloads, scoresBytes } from "./fixture.ts";

const HASH_C = `0x${"cc".repeat(32)}`;

/** The contract's median, quorum and validator pay against the JS references (node/chain/consensus.ts). */
describe("TrainingRun properties against the JS reference", () => {
  it("medians and validator pay match the reference on 30 random stake/score sets (ties and exact halves included)", async () => {
    const rand = prng(20261127);
    const f = await deployRun({ maxValidators: 10 });
    const peers = 6;
    for (let i = 0; i < peers; i++) await f.register(f.signers[1 + i]);
    const vals = f.signers.slice(10, 20);
    // Equal stakes for half the validators make exact-half splits common.
    const stakes = vals.map((_, k) => (k % 2 === 0 ? 2n * ONE : ONE + BigInt(Math.floor(rand() * 5)) * ONE));
    for (const [k, v] of vals.entries()) await f.run.connect(v).stake({ value: stakes[k] });
    let exactHalves = 0;
    let compared = 0;
    for (let c = 0; c < 30; c++) {
      // At least 4 of 10 validators, so most rounds reach quorum and get compared.
      const n = 4 + Math.floor(rand() * (vals.length - 3));
      const chosen = [...vals.keys()].sort(() => rand() - 0.5).slice(0, n);
      await f.setTime(f.windowOf(c).opensAt);
      const table: number[][] = [];
      for (const k of chosen) {
        // Mix of short arrays (missing trailing peers score 0), ties and extremes.
        const len = rand() < 0.2 ? Math.floor(rand() * peers) : peers;
        const row = Array.from({ length: len }, () =>
          rand() < 0.3 ? [0, 7, MAX_SCORE][Math.floor(rand() * 3)] : Math.floor(rand() * (MAX_SCORE + 1)),
        );
        table.push([...row, ...Array(peers - len).fill(0)]);
        await f.run.connect(vals[k]).submitScores(c, HASH_A, payloads([0], c), scoresBytes(row), "0x");
      }
      await f.setTime(f.windowOf(c).closesAt);
      const { logs, skipped } = await f.finalize(c);
      const weights = chosen.map((k) => stakes[k]);
      const total = weights.reduce((a, b) => a + b, 0n);
      const snapshot = stakes.reduce((a, b) => a + b, 0n);
      if (total * 2n <= snapshot) {
        assert.equal(skipped, true, `case ${c}: ${total} of ${snapshot} is no quorum`);
        continue;
      }
      compared++;
      const fin = logs.find((e) => e.name === "RoundFinalized")!;
      const want = Array.from({ length: peers }, (_, p) => {
        const column = table.map((r) => r[p]);
        let cum = 0n;
        for (const i of [...column.keys()].sort((a, b) => column[a] - column[b])) {
          cum += weights[i];
          if (cum * 2n === total) exactHalves++;
        }
        return weightedMedian(column, weights);
      });
      assert.deepEqual(
        decodeScores(fin.args.medians),
        want,
        `case ${c}: weights ${weights} table ${JSON.stringify(table)}`,
      );
      const paid = logs.filter((e) => e.name === "ValidatorRewarded").map((e) => e.args.validator);
      const expected = chosen.filter((_, j) => withinBand(table[j], want, 2000)).map((k) => vals[k].address);
      assert.deepEqual(paid, expected, `case ${c}: validator pay`);
    }
    assert.ok(exactHalves > 0, "the random sets include exact-half splits");
    assert.ok(compared >= 15, `only ${compared} rounds reached quorum`);
  });

  it("quorum and the canonical (hash, root) match the reference on 40 random submission sets", async () => {
    const rand = prng(424242);
    const f = await deployRun({ maxValidators: 10 });
    await f.register(f.signers[1]);
    await f.register(f.signers[2]);
    const vals = f.signers.slice(10, 20);
    const stakes = vals.map(() => ONE + BigInt(Math.floor(rand() * 9)) * ONE);
    for (const [k, v] of vals.entries()) await f.run.connect(v).stake({ value: stakes[k] });
    const snapshot = stakes.reduce((a, b) => a + b, 0n);
    // Outcomes: a model hash with one of two payload lists, or another hash.
    const choices = [
      { modelHash: HASH_A, list: [0] },
      { modelHash: HASH_A, list: [0, 1] },
      { modelHash: HASH_B, list: [0] },
      { modelHash: HASH_C, list: [1] },
    ];
    const seen = { skipped: 0, finalized: 0 };
    for (let c = 0; c < 40; c++) {
      const n = Math.floor(rand() * (vals.length + 1));
      const chosen = [...vals.keys()].sort(() => rand() - 0.5).slice(0, n);
      // Bias towards agreement so both outcomes are common.
      const picks = chosen.map(() => choices[rand() < 0.6 ? 0 : Math.floor(rand() * choices.length)]);
      await f.setTime(f.windowOf(c).opensAt);
      const subs = [];
      for (const [j, k] of chosen.entries()) {
        const list = payloads(picks[j].list, c);
        await f.run.connect(vals[k]).submitScores(c, picks[j].modelHash, list, scoresBytes([100, 200]), "0x");
        subs.push({ weight: stakes[k], modelHash: picks[j].modelHash, payloadRoot: keccak256(list) });
      }
      if (n === 0) continue; // a round nobody submitted to needs no finalize
      await f.setTime(f.windowOf(c).closesAt);
      const { logs, skipped } = await f.finalize(c);
      const want = roundOutcome(subs, snapshot);
      if (want.status === "skipped") {
        seen.skipped++;
        assert.equal(skipped, true, `case ${c}`);
        const ev = logs.find((e) => e.name === "RoundSkipped")!;
        assert.deepEqual([ev.args.bestWeight, ev.args.submittedWeight], [want.bestWeight, want.submittedWeight]);
        assert.equal(await f.run.modelHashOf(c), `0x${"00".repeat(32)}`);
      } else {
        seen.finalized++;
        const fin = logs.find((e) => e.name === "RoundFinalized")!;
        assert.deepEqual(
          [fin.args.modelHash, fin.args.payloadRoot, fin.args.totals.agreeingWeight],
          [subs[want.canonical].modelHash, subs[want.canonical].payloadRoot, want.agreeingWeight],
          `case ${c}`,
        );
      }
    }
    assert.ok(seen.skipped >= 5 && seen.finalized >= 5, JSON.stringify(seen));
  });

  it("reference median: a set with at most half the weight never decides it alone (2000 random sets)", () => {
    const rand = prng(7);
    for (let c = 0; c < 2000; c++) {
      const n = 2 + Math.floor(rand() * 7);
      const weights = Array.from({ length: n }, () => BigInt(1 + Math.floor(rand() * 4)));
      const values = Array.from({ length: n }, () => Math.floor(rand() * (MAX_SCORE + 1)));
      const total = weights.reduce((a, b) => a + b, 0n);
      // S: a random subset holding at most half the weight; it votes an extreme, the rest stay.
      const inS = values.map(() => rand() < 0.5);
      const wS = weights.reduce((a, w, i) => (inS[i] ? a + w : a), 0n);
      if (wS * 2n > total || wS === 0n) continue;
      const others = values.filter((_, i) => !inS[i]);
      const [lo, hi] = [Math.min(...others), Math.max(...others)];
      for (const extreme of [0, MAX_SCORE]) {
        const m = weightedMedian(
          values.map((v, i) => (inS[i] ? extreme : v)),
          weights,
        );
        if (wS * 2n < total) assert.ok(m >= lo && m <= hi, `case ${c}: ${m} outside [${lo}, ${hi}]`);
        else assert.ok(m >= Math.floor(lo / 2) && m <= Math.floor((hi + MAX_SCORE) / 2), `case ${c}: ${m}`);
      }
    }
  });
});
