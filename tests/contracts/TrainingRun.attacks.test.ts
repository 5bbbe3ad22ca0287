import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BOND, HASH_A, HASH_B, ONE, decodeScores, deployRun, payloads, reverts, scoresBytes } from "./fixture.ts";

/**
 * Issue 13's attacks, each as a regression test asserting the OUTCOME (which hash is canonical, who was
 * paid, that the honest submission counts). "Old contract" notes what the TrainingRun before issue 13
 * did in the same scenario, measured on it (hardhat, 2026-11): every one of these tests fails there.
 */
describe("TrainingRun attacks (issue 13)", () => {
  it("1. early finalize by a minority: submit, requestUnstake, finalize inside the window", async () => {
    // Old contract: the round finalized at once with the attacker's hash; the sybil got 900 tokens, the
    // attacker's validator 100, the honest peer 0, and the honest submission reverted RoundAlreadyFinalized.
    const f = await deployRun();
    const [honestPeer, sybil] = [f.signers[1], f.signers[2]];
    await f.register(honestPeer); // index 0
    await f.register(sybil); // index 1
    const [honest, attacker] = [f.signers[10], f.signers[11]];
    await f.run.connect(honest).stake({ value: 100n * ONE });
    await f.run.connect(attacker).stake({ value: ONE });
    await f.setTime(f.windowOf(0).opensAt);
    await f.run.connect(attacker).submitScores(0, HASH_B, payloads([1]), scoresBytes([0, 65535]), "0x");
    await f.run.connect(attacker).requestUnstake();
    // Unstaking changed nothing for round 0: both are in its snapshot, so no early finalize.
    assert.deepEqual([...(await f.run.roundSnapshot(0))], [2n, 101n * ONE]);
    await reverts(f.run.finalizeRoundStep(0, 64), f.run, "TrainingRunRoundNotFinalizable");

    await f.run.connect(honest).submitScores(0, HASH_A, payloads([0]), scoresBytes([65535, 0]), "0x");
    const { logs } = await f.finalize(0); // now early: every snapshot validator submitted
    const fin = logs.find((e) => e.name === "RoundFinalized")!;
    assert.equal(fin.args.modelHash, HASH_A);
    assert.equal(await f.run.modelHashOf(0), HASH_A);
    assert.equal(fin.args.totals.submittedWeight, 101n * ONE); // the honest submission counts
    assert.deepEqual(decodeScores(fin.args.medians), [65535, 0]);
    assert.equal(await f.run.pendingRewards(honestPeer.address), 900n * ONE);
    assert.equal(await f.run.pendingRewards(sybil.address), 0n);
    assert.equal(await f.run.pendingRewards(honest.address), 100n * ONE);
    assert.equal(await f.run.pendingRewards(attacker.address), 0n);
  });

  it("2. no quorum: a lone small validator cannot decide a round the stake majority missed", async () => {
    // Old contract: after the window the lone 1-ether validator's hash became canonical (against
    // 1000 ether that missed the window) and it was paid 100 tokens.
    const f = await deployRun();
    await f.register(f.signers[1]);
    const [big, lone] = [f.signers[10], f.signers[11]];
    await f.run.connect(big).stake({ value: 1000n * ONE });
    await f.run.connect(lone).stake({ value: ONE });
    await f.setTime(f.windowOf(0).opensAt);
    await f.run.connect(lone).submitScores(0, HASH_B, payloads([0]), scoresBytes([7]), "0x");
    await f.setTime(f.windowOf(0).closesAt);
    const { logs, skipped } = await f.finalize(0);
    assert.equal(skipped, true);
    const ev = logs.find((e) => e.name === "RoundSkipped")!;
    assert.deepEqual(
      [ev.args.submissions, ev.args.snapshotWeight, ev.args.submittedWeight, ev.args.bestWeight],
      [1n, 1001n * ONE, ONE, ONE],
    );
    assert.equal(await f.run.modelHashOf(0), `0x${"00".repeat(32)}`);
    assert.equal(await f.run.roundStatus(0), 3n); // Skipped
    assert.equal(await f.run.pendingRewards(lone.address), 0n);
    assert.equal(await f.run.pendingRewards(f.signers[1].address), 0n);
    assert.equal((await f.run.lastGatherSet())[0], false); // no new gather set
    // The chain did not stop: round 1 finalizes normally once the majority is back.
    await f.setTime(f.windowOf(1).opensAt);
    await f.run.connect(big).submitScores(1, HASH_A, payloads([0], 1), scoresBytes([9]), "0x");
    await f.setTime(f.windowOf(1).closesAt);
    assert.equal((await f.finalize(1)).skipped, false);
    assert.equal(await f.run.modelHashOf(1), HASH_A);
  });

  it("4. registry filling: idle sybils are evicted and forfeit their bonds; an honest peer then joins and is paid", async () => {
    // Old contract: registration was free and permanent; with the registry full, registerPeer reverted
    // PeerRegistryFull forever.
    const f = await deployRun({ maxPeers: 4, gatherSize: 2, evictAfterRounds: 3 });
    const sybils = f.signers.slice(1, 5);
    for (const s of sybils) await f.register(s);
    const honestPeer = f.signers[6];
    await reverts(f.register(honestPeer), f.run, "TrainingRunPeerRegistryFull");
    const v = f.signers[10];
    await f.run.connect(v).stake({ value: ONE });
    // Rounds 0-3: the sybils publish nothing, so they score 0 (round 0, their registration round, does
    // not count against them). An exit with strikes forfeits the bond just like eviction.
    for (let r = 0; r <= 3; r++) {
      await f.setTime(f.windowOf(r).opensAt);
      await f.run.connect(v).submitScores(r, HASH_A, "0x", "0x", "0x");
      const { logs } = await f.finalize(r);
      if (r === 1) {
        const exit = await (await f.run.connect(sybils[3]).exitPeer()).wait();
        const ev = exit.logs.map((l: never) => f.run.interface.parseLog(l)).find((e: { name: string }) => e);
        assert.equal(ev.args.refund, 0n);
      }
      const evicted = logs.filter((e) => e.name === "PeerEvicted").map((e) => e.args.peer);
      assert.deepEqual(evicted, r === 3 ? sybils.slice(0, 3).map((s) => s.address) : []);
    }
    assert.equal(await f.run.activePeerCount(), 0n);
    assert.equal(await f.run.forfeitedBonds(), 4n * BOND);
    // Slots are free again: the honest peer registers, publishes and is paid.
    await f.register(honestPeer);
    const index = Number(await f.run.peerIndex(honestPeer.address));
    const scores = [0, 0, 0, 0];
    scores[index] = 40_000;
    await f.setTime(f.windowOf(4).opensAt);
    await f.run.connect(v).submitScores(4, HASH_A, payloads([index], 4), scoresBytes(scores), "0x");
    await f.finalize(4);
    assert.equal(await f.run.pendingRewards(honestPeer.address), 900n * ONE);
    for (const s of sybils) assert.equal(await f.run.pendingRewards(s.address), 0n);
  });

  it("5. checkpoint takeover: a junk checkpoint cannot lock out the honest one", async () => {
    // Old contract: any staked validator recorded (latest round, right hash, junk uri) and the honest
    // validator's checkpoint for that round reverted CheckpointNotNewer.
    const f = await deployRun();
    const [honest, copier, dissenter] = [f.signers[10], f.signers[11], f.signers[12]];
    await f.run.connect(honest).stake({ value: 10n * ONE });
    await f.run.connect(copier).stake({ value: ONE });
    await f.run.connect(dissenter).stake({ value: ONE });
    await f.setTime(f.windowOf(0).opensAt);
    await f.run.connect(honest).submitScores(0, HASH_A, "0x", "0x", "0x");
    await f.run.connect(copier).submitScores(0, HASH_A, "0x", "0x", "0x");
    await f.run.connect(dissenter).submitScores(0, HASH_B, "0x", "0x", "0x");
    await f.finalize(0);
    // A validator that did not back the canonical outcome cannot record at all.
    await reverts(
      f.run.connect(dissenter).recordCheckpoint(0, HASH_A, "junk://"),
      f.run,
      "TrainingRunCheckpointNotAllowed",
    );
    // One that agreed can record a junk uri first, but the honest one still records the same round.
    await f.run.connect(copier).recordCheckpoint(0, HASH_A, "junk://");
    const rc = await (await f.run.connect(honest).recordCheckpoint(0, HASH_A, "blob:good")).wait();
    const ev = rc.logs.map((l: never) => f.run.interface.parseLog(l)).find((e: { name: string } | null) => e);
    assert.deepEqual([ev.name, ev.args.validator, ev.args.uri], ["CheckpointRecorded", honest.address, "blob:good"]);
    assert.deepEqual([...(await f.run.latestCheckpoint())], [true, 0n, HASH_A]);
    // …and each agreeing validator records at most once per round, so junk cannot be re-posted last.
    await reverts(
      f.run.connect(copier).recordCheckpoint(0, HASH_A, "junk2://"),
      f.run,
      "TrainingRunCheckpointAlreadyRecorded",
    );
  });

  it("6a. exactly half the submitted stake cannot zero a peer (nor less than half move it out of range)", async () => {
    // Old contract (lower weighted median): the zeroing validator with half the stake set both medians
    // to 0, so the peers earned nothing.
    const f = await deployRun();
    await f.register(f.signers[1]);
    await f.register(f.signers[2]);
    const [honest, attacker, small] = [f.signers[10], f.signers[11], f.signers[12]];
    await f.run.connect(honest).stake({ value: 2n * ONE });
    await f.run.connect(attacker).stake({ value: 2n * ONE });
    await f.setTime(f.windowOf(0).opensAt);
    await f.run.connect(honest).submitScores(0, HASH_A, "0x", scoresBytes([60000, 30000]), "0x");
    await f.run.connect(attacker).submitScores(0, HASH_A, "0x", scoresBytes([0, 0]), "0x");
    const fin = (await f.finalize(0)).logs.find((e) => e.name === "RoundFinalized")!;
    assert.deepEqual(decodeScores(fin.args.medians), [30000, 15000]); // halfway, not the attacker's 0
    assert.equal(await f.run.pendingRewards(f.signers[1].address), 600n * ONE);
    assert.equal(await f.run.pendingRewards(f.signers[2].address), 300n * ONE);

    // With a third honest validator the zeroing set holds less than half: the medians are honest values.
    await f.run.connect(small).stake({ value: ONE });
    await f.setTime(f.windowOf(1).opensAt);
    await f.run.connect(honest).submitScores(1, HASH_A, "0x", scoresBytes([60000, 30000]), "0x");
    await f.run.connect(small).submitScores(1, HASH_A, "0x", scoresBytes([50000, 20000]), "0x");
    await f.run.connect(attacker).submitScores(1, HASH_A, "0x", scoresBytes([0, 0]), "0x");
    const fin1 = (await f.finalize(1)).logs.find((e) => e.name === "RoundFinalized")!;
    assert.deepEqual(decodeScores(fin1.args.medians), [50000, 20000]);
  });

  it("6b. no stake-submit-withdraw: unstakeDelay must cover 3 rounds, so the stake is locked through finalize", async () => {
    // Old contract: unstakeDelay 0 deployed, so stake, submitScores, requestUnstake and withdraw could
    // all happen inside one scoring window (with a contract, in one transaction).
    const f = await deployRun();
    const Factory = await f.ethers.getContractFactory("TrainingRun");
    await reverts(Factory.deploy({ ...f.params, unstakeDelay: 0 }, "t", "T"), Factory, "TrainingRunInvalidParams");
    const v = f.signers[10];
    await f.run.connect(v).stake({ value: ONE });
    await f.setTime(f.windowOf(0).opensAt);
    await f.run.connect(v).submitScores(0, HASH_A, "0x", "0x", "0x");
    await f.run.connect(v).requestUnstake();
    await reverts(f.run.connect(v).withdraw(), f.run, "TrainingRunUnstakeDelayNotElapsed");
    const [, at] = await f.run.stakeOf(v.address);
    assert.ok(Number(at) >= f.windowOf(0).closesAt + 2 * 100, "locked for rounds after the window");
    await f.finalize(0);
    assert.deepEqual([...(await f.run.stakeOf(v.address))][0], ONE); // still locked after finalize
  });

  it("6c. a validator that copies the hash but not the work (all-zero or random scores) is not paid", async () => {
    // Old contract: validators were paid for agreeing on the hash alone; the zero-scoring copier got 50
    // of the 100 validator tokens.
    const f = await deployRun();
    for (let i = 1; i <= 4; i++) await f.register(f.signers[i]);
    const [honest, lazy, noisy] = [f.signers[10], f.signers[11], f.signers[12]];
    await f.run.connect(honest).stake({ value: 3n * ONE }); // the honest majority sets the medians
    await f.run.connect(lazy).stake({ value: ONE });
    await f.run.connect(noisy).stake({ value: ONE });
    await f.setTime(f.windowOf(0).opensAt);
    const honestScores = [40000, 30000, 20000, 50000];
    await f.run.connect(honest).submitScores(0, HASH_A, payloads([0, 1]), scoresBytes(honestScores), "0x");
    await f.run.connect(lazy).submitScores(0, HASH_A, payloads([0, 1]), scoresBytes([0, 0, 0, 0]), "0x");
    await f.run.connect(noisy).submitScores(0, HASH_A, payloads([0, 1]), scoresBytes([65535, 0, 65535, 0]), "0x");
    const { logs } = await f.finalize(0);
    const paid = logs.filter((e) => e.name === "ValidatorRewarded").map((e) => [e.args.validator, e.args.amount]);
    assert.deepEqual(paid, [[honest.address, 100n * ONE]]);
    assert.equal(await f.run.pendingRewards(lazy.address), 0n);
    assert.equal(await f.run.pendingRewards(noisy.address), 0n);
  });
});
