import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { weightedMedian } from "../../node/chain/encoding.ts";
import {
  HASH_A,
  HASH_B,
  ONE,
  bitmap,
  bitmapIndices,
  decodeScores,
  deployRun,
  reverts,
  scoresBytes,
} from "./fixture.ts";
import { prng } from "../fixtures/prng.ts";

type Fixture = Awaited<ReturnType<typeof deployRun>>;

/** Events of one receipt, decoded by the run's interface. */
async function eventsOf(f: Fixture, tx: { wait(): Promise<unknown> }) {
  const rc = (await tx.wait()) as { logs: { topics: string[]; data: string }[] };
  return rc.logs.map((l) => f.run.interface.parseLog(l)).filter((e) => e !== null);
}

describe("TrainingRun rounds", () => {
  it("stake-weighted median matches the JS reference on 30 random cases", async () => {
    const rand = prng(20261127);
    const f = await deployRun({ maxValidators: 16 });
    const peers = 6;
    for (let i = 0; i < peers; i++) await f.run.connect(f.signers[1 + i]).registerPeer("0x");
    for (let c = 0; c < 30; c++) {
      const nVal = 1 + Math.floor(rand() * 7);
      const vals = f.signers.slice(10, 10 + nVal);
      const stakes = vals.map(() => ONE + BigInt(Math.floor(rand() * 5)) * ONE + BigInt(Math.floor(rand() * 1000)));
      // Each case is its own round: the active set changes only between rounds.
      for (const [k, v] of vals.entries()) {
        const [cur] = await f.run.stakeOf(v.address);
        if (cur === 0n) await f.run.connect(v).stake({ value: stakes[k] });
        else stakes[k] = cur;
      }
      // Validators not in this case's set would block an early finalize; the window closes anyway.
      const { opensAt, closesAt } = f.windowOf(c);
      await f.setTime(opensAt);
      const table: number[][] = [];
      for (const v of vals) {
        // Mix of short arrays (missing trailing peers score 0), ties and extremes.
        const len = rand() < 0.2 ? Math.floor(rand() * peers) : peers;
        const row = Array.from({ length: len }, () =>
          rand() < 0.3 ? [0, 7, 65535][Math.floor(rand() * 3)] : Math.floor(rand() * 65536),
        );
        table.push([...row, ...Array(peers - len).fill(0)]);
        await f.run.connect(v).submitScores(c, HASH_A, "0x", scoresBytes(row), "0x");
      }
      await f.setTime(closesAt);
      const evs = await eventsOf(f, await f.run.finalizeRound(c));
      const fin = evs.find((e) => e.name === "RoundFinalized")!;
      const got = decodeScores(fin.args.medians);
      const want = Array.from({ length: peers }, (_, p) =>
        weightedMedian(
          table.map((r) => r[p]),
          stakes,
        ),
      );
      assert.deepEqual(got, want, `case ${c}: stakes ${stakes} table ${JSON.stringify(table)}`);
    }
  });

  async function threeValidatorRound() {
    const f = await deployRun({ gatherSize: 2 });
    for (let i = 0; i < 4; i++) await f.run.connect(f.signers[1 + i]).registerPeer(`0x0${i}`);
    const [v1, v2, v3] = [f.signers[10], f.signers[11], f.signers[12]];
    await f.run.connect(v1).stake({ value: 1n * ONE });
    await f.run.connect(v2).stake({ value: 2n * ONE });
    await f.run.connect(v3).stake({ value: 2n * ONE });
    return { f, v1, v2, v3 };
  }

  it("early finalize once every staked validator submitted; rewards, hash majority, included, gather set", async () => {
    const { f, v1, v2, v3 } = await threeValidatorRound();
    const { run } = f;
    await f.setTime(f.windowOf(0).opensAt);
    // v1 (stake 1) disagrees on the model hash; v2 + v3 (stake 4) agree on HASH_A.
    await run.connect(v1).submitScores(0, HASH_B, bitmap([0, 1], 4), scoresBytes([100, 300, 0, 9]), "0x01");
    await run.connect(v2).submitScores(0, HASH_A, bitmap([0, 1, 2], 4), scoresBytes([200, 100, 0, 0]), "0x");
    await reverts(run.finalizeRound(0), run, "RoundNotFinalizable");
    await run.connect(v3).submitScores(0, HASH_A, bitmap([0, 2], 4), scoresBytes([300, 100, 0, 0]), "0x");
    const evs = await eventsOf(f, await run.finalizeRound(0)); // still inside the window

    const fin = evs.find((e) => e.name === "RoundFinalized")!;
    assert.equal(fin.args.modelHash, HASH_A);
    // Medians with weights (1,2,2), half = 2.5: peer0 {100:1,200:2,300:2} → 200; peer1 {100:4,300:1} → 100.
    assert.deepEqual(decodeScores(fin.args.medians), [200, 100, 0, 0]);
    // included by weight > half: peer0 (5), peer1 (3), peer2 (4); peer3 none.
    assert.deepEqual(bitmapIndices(fin.args.included), [0, 1, 2]);
    const totals = fin.args.totals;
    assert.equal(totals.submissions, 3n);
    assert.equal(totals.totalWeight, 5n * ONE);
    assert.equal(totals.agreeingWeight, 4n * ONE);
    assert.equal(totals.scoreSum, 300n);

    // Rewards: 90 % of 1000 to peers pro rata to 200:100, 10 % to v2, v3 pro rata to stake.
    const peerRewards = evs.filter((e) => e.name === "PeerRewarded");
    assert.deepEqual(
      peerRewards.map((e) => [e.args.peer, e.args.medianScore, e.args.amount]),
      [
        [f.signers[1].address, 200n, 600n * ONE],
        [f.signers[2].address, 100n, 300n * ONE],
      ],
    );
    const valRewards = evs.filter((e) => e.name === "ValidatorRewarded");
    assert.deepEqual(
      valRewards.map((e) => [e.args.validator, e.args.amount]),
      [
        [v2.address, 50n * ONE],
        [v3.address, 50n * ONE],
      ],
    );
    const sumPeers = peerRewards.reduce((a, e) => a + e.args.amount, 0n);
    const sumVals = valRewards.reduce((a, e) => a + e.args.amount, 0n);
    assert.equal(sumPeers, totals.peerRewards);
    assert.equal(sumVals, totals.validatorRewards);
    assert.ok(sumPeers + sumVals <= f.params.rewardPerRound);
    let pending = 0n;
    for (const a of [...f.signers.slice(1, 5), v1, v2, v3]) pending += await run.pendingRewards(a.address);
    assert.equal(pending, sumPeers + sumVals);
    assert.equal(await run.pendingRewards(v1.address), 0n);

    // Ratings (α = 0.5): 200·256/2, 100·256/2; gather set G = 2 → peers 0 and 1.
    assert.equal(await run.peerRating(0), 25600n);
    assert.equal(await run.peerRating(1), 12800n);
    assert.deepEqual(bitmapIndices(fin.args.gatherSet), [0, 1]);
    const [exists, gRound, gBitmap] = await run.lastGatherSet();
    assert.equal(exists, true);
    assert.equal(gRound, 0n);
    assert.deepEqual(bitmapIndices(gBitmap), [0, 1]);
    assert.equal(await run.modelHashOf(0), HASH_A);
    assert.deepEqual([...(await run.lastFinalizedRound())], [true, 0n]);
    assert.equal(await run.submissionCount(0), 0n); // per-round submissions are deleted
  });

  it("claim mints pending rewards once; a second claim reverts", async () => {
    const { f, v1, v2, v3 } = await threeValidatorRound();
    await f.setTime(f.windowOf(0).opensAt);
    for (const v of [v1, v2, v3]) await f.run.connect(v).submitScores(0, HASH_A, "0x", scoresBytes([10, 30]), "0x");
    await f.run.finalizeRound(0);
    const peer = f.signers[2];
    const owed = await f.run.pendingRewards(peer.address);
    assert.equal(owed, 675n * ONE); // 900 · 30/40
    const evs = await eventsOf(f, await f.run.connect(peer).claim());
    assert.equal(evs.find((e) => e.name === "Claimed")!.args.amount, owed);
    assert.equal(await f.token.balanceOf(peer.address), owed);
    assert.equal(await f.run.pendingRewards(peer.address), 0n);
    await reverts(f.run.connect(peer).claim(), f.run, "NothingToClaim");
    // Total minted over all claims equals what was credited.
    for (const a of [f.signers[1], v1, v2, v3]) await f.run.connect(a).claim();
    assert.equal(await f.token.totalSupply(), f.params.rewardPerRound);
  });

  it("empty rounds are skipped: round 2 finalizes right after round 0", async () => {
    const { f, v1 } = await threeValidatorRound();
    await f.setTime(f.windowOf(0).opensAt);
    await f.run.connect(v1).submitScores(0, HASH_A, "0x", scoresBytes([1]), "0x");
    await f.setTime(f.windowOf(0).closesAt);
    await f.run.finalizeRound(0);
    await f.setTime(f.windowOf(2).opensAt);
    await f.run.connect(v1).submitScores(2, HASH_B, "0x", scoresBytes([1]), "0x");
    await f.setTime(f.windowOf(2).closesAt);
    await f.run.finalizeRound(2);
    assert.equal(await f.run.modelHashOf(1), `0x${"00".repeat(32)}`);
    assert.equal(await f.run.modelHashOf(2), HASH_B);
    await reverts(f.run.finalizeRound(1), f.run, "RoundAlreadyFinalized");
  });

  it("unrated peers: the gather set is every registered peer; ratings decay when unscored", async () => {
    const { f, v1, v2, v3 } = await threeValidatorRound();
    await f.setTime(f.windowOf(0).opensAt);
    for (const v of [v1, v2, v3]) await f.run.connect(v).submitScores(0, HASH_A, "0x", "0x", "0x");
    const evs = await eventsOf(f, await f.run.finalizeRound(0));
    const fin = evs.find((e) => e.name === "RoundFinalized")!;
    assert.deepEqual(bitmapIndices(fin.args.gatherSet), [0, 1, 2, 3]);
    assert.equal(fin.args.totals.peerRewards, 0n); // nothing scored: the peer pool is not minted
    assert.equal(fin.args.totals.validatorRewards, 100n * ONE);

    await f.setTime(f.windowOf(1).opensAt);
    for (const v of [v1, v2, v3])
      await f.run.connect(v).submitScores(1, HASH_A, "0x", scoresBytes([0, 0, 0, 512]), "0x");
    await f.run.finalizeRound(1);
    await f.setTime(f.windowOf(2).opensAt);
    for (const v of [v1, v2, v3]) await f.run.connect(v).submitScores(2, HASH_A, "0x", scoresBytes([0, 0, 8, 0]), "0x");
    const evs2 = await eventsOf(f, await f.run.finalizeRound(2));
    assert.equal(await f.run.peerRating(3), 32768n); // 512·256 → halved once
    assert.equal(await f.run.peerRating(2), 1024n);
    // Top-2 by rating: peer 3, then peer 2.
    assert.deepEqual(bitmapIndices(evs2.find((e) => e.name === "RoundFinalized")!.args.gatherSet), [2, 3]);
  });

  it("events tell the story: PeerRegistered, ValidatorStaked, ScoresSubmitted with components, UnstakeRequested", async () => {
    const f = await deployRun();
    const e1 = await eventsOf(f, await f.run.connect(f.signers[1]).registerPeer("0xbeef"));
    assert.deepEqual(
      [e1[0].name, e1[0].args.peer, e1[0].args.index, e1[0].args.metadata],
      ["PeerRegistered", f.signers[1].address, 0n, "0xbeef"],
    );
    const e2 = await eventsOf(f, await f.run.connect(f.signers[10]).stake({ value: 2n * ONE }));
    assert.deepEqual([e2[0].name, e2[0].args.amount, e2[0].args.totalStake], ["ValidatorStaked", 2n * ONE, 2n * ONE]);
    await f.setTime(f.windowOf(0).opensAt);
    const e3 = await eventsOf(
      f,
      await f.run.connect(f.signers[10]).submitScores(0, HASH_A, "0x01", "0x0102", "0x02aabbccdd"),
    );
    assert.equal(e3[0].name, "ScoresSubmitted");
    assert.deepEqual(
      [e3[0].args.weight, e3[0].args.included, e3[0].args.scores, e3[0].args.components],
      [2n * ONE, "0x01", "0x0102", "0x02aabbccdd"],
    );
    const e4 = await eventsOf(f, await f.run.connect(f.signers[10]).requestUnstake());
    assert.equal(e4[0].name, "UnstakeRequested");
    assert.deepEqual([...(await f.run.activeValidators())], [0n, 0n]);
    // A validator that submitted and then unstaked still counts for that round.
    await f.setTime(f.windowOf(0).closesAt);
    const e5 = await eventsOf(f, await f.run.finalizeRound(0));
    assert.equal(e5.find((e) => e.name === "RoundFinalized")!.args.totals.totalWeight, 2n * ONE);
  });
});
