import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { payloadRoot } from "../../node/chain/encoding.ts";
import {
  HASH_A,
  HASH_B,
  ONE,
  bitmapIndices,
  decodeScores,
  deployRun,
  payloadHash,
  payloads,
  reverts,
  scoresBytes,
} from "./fixture.ts";

type Fixture = Awaited<ReturnType<typeof deployRun>>;

/** Events of one receipt, decoded by the run's interface. */
async function eventsOf(f: Fixture, tx: { wait(): Promise<unknown> }) {
  const rc = (await tx.wait()) as { logs: { topics: string[]; data: string }[] };
  return rc.logs.map((l) => f.run.interface.parseLog(l)).filter((e) => e !== null);
}

const rootOf = (indices: number[], round = 0) =>
  payloadRoot(indices.map((index) => ({ index, hash: payloadHash(index, round) })));

describe("TrainingRun rounds", () => {
  async function threeValidatorRound() {
    const f = await deployRun({ gatherSize: 2 });
    for (let i = 0; i < 4; i++) await f.register(f.signers[1 + i], `0x0${i}`);
    const [v1, v2, v3] = [f.signers[10], f.signers[11], f.signers[12]];
    await f.run.connect(v1).stake({ value: 1n * ONE });
    await f.run.connect(v2).stake({ value: 2n * ONE });
    await f.run.connect(v3).stake({ value: 2n * ONE });
    return { f, v1, v2, v3 };
  }

  it("early finalize once every snapshot validator submitted; rewards, canonical pair, included, gather set", async () => {
    const { f, v1, v2, v3 } = await threeValidatorRound();
    const { run } = f;
    await f.setTime(f.windowOf(0).opensAt);
    // v1 (stake 1) disagrees on the model hash; v2 + v3 (stake 4 of 5) agree on (HASH_A, payloads of 0 and 1).
    await run.connect(v1).submitScores(0, HASH_B, payloads([0, 1]), scoresBytes([100, 300, 0, 9]), "0x01");
    await run.connect(v2).submitScores(0, HASH_A, payloads([0, 1]), scoresBytes([200, 100, 0, 0]), "0x");
    await reverts(run.finalizeRoundStep(0, 64), run, "TrainingRunRoundNotFinalizable");
    await run.connect(v3).submitScores(0, HASH_A, payloads([0, 1]), scoresBytes([300, 100, 0, 0]), "0x");
    const { logs, steps } = await f.finalize(0); // still inside the window
    assert.equal(steps, 1);

    const fin = logs.find((e) => e.name === "RoundFinalized")!;
    assert.equal(fin.args.modelHash, HASH_A);
    assert.equal(fin.args.payloadRoot, rootOf([0, 1]));
    assert.equal(await run.payloadRootOf(0), rootOf([0, 1]));
    // Medians with weights (1,2,2), half = 2.5: peer0 {100:1,200:2,300:2} → 200; peer1 {100:4,300:1} → 100.
    assert.deepEqual(decodeScores(fin.args.medians), [200, 100, 0, 0]);
    assert.deepEqual(bitmapIndices(fin.args.included), [0, 1]); // the canonical payload list
    const totals = fin.args.totals;
    assert.equal(totals.submissions, 3n);
    assert.equal(totals.scoredPeers, 4n);
    assert.equal(totals.snapshotWeight, 5n * ONE);
    assert.equal(totals.submittedWeight, 5n * ONE);
    assert.equal(totals.agreeingWeight, 4n * ONE);
    assert.equal(totals.scoreSum, 300n);

    // Rewards: 90 % of 1000 to peers pro rata to 200:100, 10 % to v2, v3 pro rata to stake.
    const peerRewards = logs.filter((e) => e.name === "PeerRewarded");
    assert.deepEqual(
      peerRewards.map((e) => [e.args.peer, e.args.medianScore, e.args.amount]),
      [
        [f.signers[1].address, 200n, 600n * ONE],
        [f.signers[2].address, 100n, 300n * ONE],
      ],
    );
    const valRewards = logs.filter((e) => e.name === "ValidatorRewarded");
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
    assert.equal(await run.roundStatus(0), 2n); // Finalized
  });

  it("a round finalized in pages gives exactly the one-step result", async () => {
    const runOnce = async (page: number) => {
      const f = await deployRun({ maxPeers: 40, gatherSize: 5 });
      const ws = await f.wallets(37);
      for (const w of ws) await f.register(w);
      const vals = f.signers.slice(10, 13);
      for (const [k, v] of vals.entries()) await f.run.connect(v).stake({ value: BigInt(k + 1) * ONE });
      await f.setTime(f.windowOf(0).opensAt);
      for (const [k, v] of vals.entries()) {
        const scores = Array.from({ length: 37 }, (_, i) => (i * 977 + k * 3001) % 4000);
        await f.run.connect(v).submitScores(0, HASH_A, payloads([0, 5, 36]), scoresBytes(scores), "0x");
      }
      const out = await f.finalize(0, page);
      const fin = out.logs.find((e) => e.name === "RoundFinalized")!;
      // Fresh wallets differ per deployment: name peers by their registry index.
      const who = (a: string) => ws.findIndex((w) => w.address === a);
      const rewards = out.logs
        .filter((e) => e.name.endsWith("Rewarded"))
        .map((e) =>
          e.name === "PeerRewarded"
            ? [e.name, who(e.args.peer), e.args.medianScore, e.args.amount]
            : [e.name, e.args.validator, e.args.amount],
        );
      return { steps: out.steps, fin: [...fin.args].map(String), rewards };
    };
    const whole = await runOnce(1000);
    assert.equal(whole.steps, 1);
    for (const page of [1, 7, 16]) {
      const paged = await runOnce(page);
      // pass 1 and pass 2 each visit 37 slots; the close needs one unit of budget left
      assert.equal(paged.steps, Math.ceil((2 * 37 + 1) / page), `page ${page}`);
      assert.deepEqual(paged.fin, whole.fin, `page ${page}`);
      assert.deepEqual(paged.rewards, whole.rewards, `page ${page}`);
    }
  });

  it("claim mints pending rewards once; a second claim reverts", async () => {
    const { f, v1, v2, v3 } = await threeValidatorRound();
    await f.setTime(f.windowOf(0).opensAt);
    for (const v of [v1, v2, v3]) await f.run.connect(v).submitScores(0, HASH_A, "0x", scoresBytes([10, 30]), "0x");
    await f.finalize(0);
    const peer = f.signers[2];
    const owed = await f.run.pendingRewards(peer.address);
    assert.equal(owed, 675n * ONE); // 900 · 30/40
    const evs = await eventsOf(f, await f.run.connect(peer).claim());
    assert.equal(evs.find((e) => e.name === "Claimed")!.args.amount, owed);
    assert.equal(await f.token.balanceOf(peer.address), owed);
    assert.equal(await f.run.pendingRewards(peer.address), 0n);
    await reverts(f.run.connect(peer).claim(), f.run, "TrainingRunNothingToClaim");
    // Total minted over all claims equals what was credited.
    for (const a of [f.signers[1], v1, v2, v3]) await f.run.connect(a).claim();
    assert.equal(await f.token.totalSupply(), f.params.rewardPerRound);
  });

  it("empty rounds need no finalize: round 2 finalizes right after round 0", async () => {
    const { f, v1 } = await threeValidatorRound();
    await f.run.connect(f.signers[11]).requestUnstake();
    await f.run.connect(f.signers[12]).requestUnstake();
    await f.setTime(f.windowOf(0).opensAt);
    await f.run.connect(v1).submitScores(0, HASH_A, "0x", scoresBytes([1]), "0x");
    await f.finalize(0);
    await f.setTime(f.windowOf(2).opensAt);
    await f.run.connect(v1).submitScores(2, HASH_B, "0x", scoresBytes([1]), "0x");
    await f.finalize(2);
    assert.equal(await f.run.modelHashOf(1), `0x${"00".repeat(32)}`);
    assert.equal(await f.run.modelHashOf(2), HASH_B);
    await reverts(f.run.finalizeRoundStep(1, 64), f.run, "TrainingRunRoundHasNoSubmissions");
  });

  it("unrated peers: the gather set is every registered peer; ratings decay when unscored", async () => {
    const { f, v1, v2, v3 } = await threeValidatorRound();
    await f.setTime(f.windowOf(0).opensAt);
    for (const v of [v1, v2, v3]) await f.run.connect(v).submitScores(0, HASH_A, "0x", "0x", "0x");
    const { logs } = await f.finalize(0);
    const fin = logs.find((e) => e.name === "RoundFinalized")!;
    assert.deepEqual(bitmapIndices(fin.args.gatherSet), [0, 1, 2, 3]);
    assert.equal(fin.args.totals.peerRewards, 0n); // nothing scored: the peer pool is not minted
    assert.equal(fin.args.totals.validatorRewards, 100n * ONE);

    await f.setTime(f.windowOf(1).opensAt);
    for (const v of [v1, v2, v3])
      await f.run.connect(v).submitScores(1, HASH_A, "0x", scoresBytes([0, 0, 0, 512]), "0x");
    await f.finalize(1);
    await f.setTime(f.windowOf(2).opensAt);
    for (const v of [v1, v2, v3]) await f.run.connect(v).submitScores(2, HASH_A, "0x", scoresBytes([0, 0, 8, 0]), "0x");
    const { logs: logs2 } = await f.finalize(2);
    assert.equal(await f.run.peerRating(3), 32768n); // 512·256 → halved once
    assert.equal(await f.run.peerRating(2), 1024n);
    // Top-2 by rating: peer 3, then peer 2.
    assert.deepEqual(bitmapIndices(logs2.find((e) => e.name === "RoundFinalized")!.args.gatherSet), [2, 3]);
  });

  it("events tell the story: PeerRegistered with bond, ValidatorStaked, ScoresSubmitted with payloads, UnstakeRequested", async () => {
    const f = await deployRun();
    const e1 = await eventsOf(f, await f.register(f.signers[1], "0xbeef"));
    assert.deepEqual(
      [e1[0].name, e1[0].args.peer, e1[0].args.index, e1[0].args.bond, e1[0].args.metadata],
      ["PeerRegistered", f.signers[1].address, 0n, f.params.peerBond, "0xbeef"],
    );
    const e2 = await eventsOf(f, await f.run.connect(f.signers[10]).stake({ value: 2n * ONE }));
    assert.deepEqual([e2[0].name, e2[0].args.amount, e2[0].args.totalStake], ["ValidatorStaked", 2n * ONE, 2n * ONE]);
    await f.setTime(f.windowOf(0).opensAt);
    const list = payloads([0]);
    const e3 = await eventsOf(
      f,
      await f.run.connect(f.signers[10]).submitScores(0, HASH_A, list, "0x0102", "0x02aabbccdd"),
    );
    assert.equal(e3[0].name, "ScoresSubmitted");
    assert.deepEqual(
      [e3[0].args.weight, e3[0].args.payloadRoot, e3[0].args.payloads, e3[0].args.scores, e3[0].args.components],
      [2n * ONE, rootOf([0]), `0x${Buffer.from(list).toString("hex")}`, "0x0102", "0x02aabbccdd"],
    );
    const e4 = await eventsOf(f, await f.run.connect(f.signers[10]).requestUnstake());
    assert.equal(e4[0].name, "UnstakeRequested");
    assert.deepEqual([...(await f.run.activeValidators())], [0n, 0n]);
    // A validator that submitted and then unstaked still counts for that round, with its snapshot stake.
    assert.deepEqual([...(await f.run.roundSnapshot(0))], [1n, 2n * ONE]);
    const { logs } = await f.finalize(0);
    assert.equal(logs.find((e) => e.name === "RoundFinalized")!.args.totals.submittedWeight, 2n * ONE);
  });
});
