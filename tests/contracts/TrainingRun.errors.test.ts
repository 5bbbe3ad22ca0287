import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";
import { BOND, HASH_A, HASH_B, ONE, ROUND, deployRun, payloads, reverts, scoresBytes } from "./fixture.ts";

/** One test per custom error / revert path of TrainingRun and RewardToken. */
describe("TrainingRun reverts", () => {
  it("TrainingRunInvalidParams: every out-of-range constructor parameter, named", async () => {
    const { ethers, params: base } = await deployRun();
    const Factory = await ethers.getContractFactory("TrainingRun");
    for (const [key, value, reason, extra] of [
      ["roundSeconds", 0, "roundSeconds"],
      ["submissionSeconds", ROUND, "submissionSeconds"],
      ["scoringSeconds", ROUND + 1, "scoringSeconds"],
      ["scoringSeconds", 0, "scoringSeconds"],
      ["gatherSize", 0, "gatherSize"],
      ["gatherSize", 17, "gatherSize"], // > maxPeers (16)
      ["gatherSize", 65, "gatherSize", { maxPeers: 100 }], // > 64
      ["maxPeers", 0, "maxPeers"],
      ["maxPeers", 1025, "maxPeers"],
      ["maxValidators", 0, "maxValidators"],
      ["maxValidators", 33, "maxValidators"],
      ["validatorShareBps", 10_001, "validatorShareBps"],
      ["ratingAlphaBps", 0, "ratingAlphaBps"],
      ["outlierBps", 10_001, "outlierBps"],
      ["minStake", 0, "minStake"],
      ["unstakeDelay", 3 * ROUND - 1, "unstakeDelay"], // at least 3 rounds
      ["unstakeDelay", 0, "unstakeDelay"],
      ["evictAfterRounds", 0, "evictAfterRounds"],
    ] as [string, number, string, object?][]) {
      await assert.rejects(Factory.deploy({ ...base, ...extra, [key]: value }, "t", "T"), (err: Error) => {
        const data = (err as { data?: string }).data;
        const parsed = data ? Factory.interface.parseError(data) : null;
        const name = parsed?.name ?? /custom error '(\w+)\(/.exec(err.message)?.[1];
        const arg = parsed?.args[0] ?? /custom error '\w+\("(\w+)"\)/.exec(err.message)?.[1];
        assert.equal(name, "TrainingRunInvalidParams", `${key}=${value}: ${err.message}`);
        assert.equal(arg, reason, `${key}=${value}`);
        return true;
      });
    }
    await Factory.deploy({ ...base, unstakeDelay: 3 * ROUND }, "t", "T"); // the minimum is accepted
    await Factory.deploy({ ...base, peerBond: 0 }, "t", "T"); // chain id 31337: a dev chain may take no bond
  });

  it("TrainingRunInvalidParams(peerBond): no bond is refused on a chain that is not a dev chain", async () => {
    const { params: base } = await deployRun();
    const { ethers } = await network.create({ override: { chainId: 1 } });
    assert.equal((await ethers.provider.getNetwork()).chainId, 1n);
    const Factory = await ethers.getContractFactory("TrainingRun");
    await reverts(Factory.deploy({ ...base, peerBond: 0 }, "t", "T"), Factory, "TrainingRunInvalidParams");
    await Factory.deploy({ ...base, peerBond: 1 }, "t", "T");
  });

  it("TrainingRunNotStarted: currentRound before genesis", async () => {
    const { run, genesis, setTime } = await deployRun();
    await reverts(run.currentRound(), run, "TrainingRunNotStarted");
    await setTime(genesis + ROUND * 2 + 5);
    assert.equal(await run.currentRound(), 2n);
  });

  it("TrainingRunPeerAlreadyRegistered", async () => {
    const { run, signers, register } = await deployRun();
    await register(signers[1]);
    await reverts(register(signers[1]), run, "TrainingRunPeerAlreadyRegistered");
  });

  it("TrainingRunBondMismatch: too little, too much, none", async () => {
    const { run, signers } = await deployRun();
    for (const value of [BOND - 1n, BOND + 1n, 0n]) {
      await reverts(run.connect(signers[1]).registerPeer("0x", { value }), run, "TrainingRunBondMismatch");
    }
    assert.equal(await run.isPeer(signers[1].address), false);
  });

  it("TrainingRunPeerRegistryFull at maxPeers with no freed slot", async () => {
    const { run, signers, register } = await deployRun({ maxPeers: 2, gatherSize: 1 });
    await register(signers[1]);
    await register(signers[2]);
    await reverts(register(signers[3]), run, "TrainingRunPeerRegistryFull");
  });

  it("TrainingRunPeerNotRegistered: peerIndex and exitPeer", async () => {
    const { run, signers } = await deployRun();
    await reverts(run.peerIndex(signers[5].address), run, "TrainingRunPeerNotRegistered");
    await reverts(run.connect(signers[5]).exitPeer(), run, "TrainingRunPeerNotRegistered");
  });

  it("TrainingRunStakeZero", async () => {
    const { run, signers } = await deployRun();
    await reverts(run.connect(signers[1]).stake({ value: 0 }), run, "TrainingRunStakeZero");
  });

  it("TrainingRunStakeBelowMinimum on the first stake", async () => {
    const { run, signers } = await deployRun();
    await reverts(run.connect(signers[1]).stake({ value: ONE - 1n }), run, "TrainingRunStakeBelowMinimum");
    await run.connect(signers[1]).stake({ value: ONE });
    await run.connect(signers[1]).stake({ value: 1n }); // a top-up may be any amount
  });

  it("TrainingRunStakeTooLarge above uint96", async () => {
    const { run, signers, ethers } = await deployRun();
    await ethers.provider.send("hardhat_setBalance", [signers[1].address, `0x${(2n ** 100n).toString(16)}`]);
    await reverts(run.connect(signers[1]).stake({ value: 2n ** 96n }), run, "TrainingRunStakeTooLarge");
  });

  it("TrainingRunValidatorSetFull at maxValidators", async () => {
    const { run, signers } = await deployRun({ maxValidators: 1 });
    await run.connect(signers[1]).stake({ value: ONE });
    await reverts(run.connect(signers[2]).stake({ value: ONE }), run, "TrainingRunValidatorSetFull");
  });

  it("TrainingRunValidatorNotStaked: requestUnstake without stake", async () => {
    const { run, signers } = await deployRun();
    await reverts(run.connect(signers[1]).requestUnstake(), run, "TrainingRunValidatorNotStaked");
  });

  it("TrainingRunNotInSnapshot: no stake, or stake that came after the window opened", async () => {
    const { run, signers, windowOf, setTime } = await deployRun();
    await setTime(windowOf(0).opensAt);
    await reverts(run.connect(signers[1]).submitScores(0, HASH_A, "0x", "0x", "0x"), run, "TrainingRunNotInSnapshot");
    await run.connect(signers[1]).stake({ value: ONE }); // after the snapshot of round 0
    await reverts(run.connect(signers[1]).submitScores(0, HASH_A, "0x", "0x", "0x"), run, "TrainingRunNotInSnapshot");
    await setTime(windowOf(1).opensAt);
    await run.connect(signers[1]).submitScores(1, HASH_A, "0x", "0x", "0x"); // in round 1's snapshot
  });

  it("TrainingRunUnstakePending: stake or request again while unstaking", async () => {
    const { run, signers } = await deployRun();
    await run.connect(signers[1]).stake({ value: ONE });
    await run.connect(signers[1]).requestUnstake();
    await reverts(run.connect(signers[1]).stake({ value: ONE }), run, "TrainingRunUnstakePending");
    await reverts(run.connect(signers[1]).requestUnstake(), run, "TrainingRunUnstakePending");
  });

  it("TrainingRunNoUnstakeRequested", async () => {
    const { run, signers } = await deployRun();
    await run.connect(signers[1]).stake({ value: ONE });
    await reverts(run.connect(signers[1]).withdraw(), run, "TrainingRunNoUnstakeRequested");
  });

  it("TrainingRunUnstakeDelayNotElapsed, then withdraw pays the stake back", async () => {
    const { run, signers, ethers, nextTxAt } = await deployRun();
    const v = signers[1];
    await run.connect(v).stake({ value: 3n * ONE });
    await run.connect(v).requestUnstake();
    const [, at] = await run.stakeOf(v.address);
    assert.equal(await run.isValidator(v.address), false);
    await nextTxAt(Number(at) - 1);
    await reverts(run.connect(v).withdraw(), run, "TrainingRunUnstakeDelayNotElapsed");
    await nextTxAt(Number(at));
    const balanceBefore: bigint = await ethers.provider.getBalance(v.address);
    const tx = await run.connect(v).withdraw();
    const rc = (await tx.wait()) as { gasUsed: bigint; gasPrice: bigint };
    const balanceAfter: bigint = await ethers.provider.getBalance(v.address);
    assert.equal(balanceAfter - balanceBefore + rc.gasUsed * rc.gasPrice, 3n * ONE);
    assert.deepEqual([...(await run.stakeOf(v.address))], [0n, 0n]);
    await reverts(run.connect(v).withdraw(), run, "TrainingRunNoUnstakeRequested");
  });

  it("TrainingRunTransferFailed: withdraw to a validator that cannot receive ether", async () => {
    const { run, ethers, setTime } = await deployRun();
    const rejecter = await ethers.deployContract("EtherRejecter", [await run.getAddress()]);
    await rejecter.stake({ value: ONE });
    await rejecter.requestUnstake();
    const [, at] = await run.stakeOf(await rejecter.getAddress());
    await setTime(Number(at));
    await reverts(rejecter.withdraw(), run, "TrainingRunTransferFailed");
  });

  it("TrainingRunTransferFailed: a refunded exit to a peer that cannot receive ether", async () => {
    const f = await deployRun();
    const rejecter = await f.ethers.deployContract("EtherRejecter", [await f.run.getAddress()]);
    await rejecter.registerPeer({ value: BOND });
    await f.run.connect(f.signers[10]).stake({ value: ONE });
    // Round 1 scores the peer positively: it is proven and has no strikes, so exit refunds the bond.
    for (const r of [0, 1]) {
      await f.setTime(f.windowOf(r).opensAt);
      await f.run.connect(f.signers[10]).submitScores(r, HASH_A, payloads([0], r), scoresBytes([500]), "0x");
      await f.finalize(r);
    }
    assert.equal((await f.run.peerInfo(0)).proven, true);
    await reverts(rejecter.exitPeer(), f.run, "TrainingRunTransferFailed");
  });

  describe("submitScores", () => {
    async function setup() {
      const f = await deployRun();
      await f.register(f.signers[1]);
      await f.register(f.signers[2]);
      await f.run.connect(f.signers[10]).stake({ value: ONE });
      await f.run.connect(f.signers[11]).stake({ value: ONE });
      return f;
    }

    it("TrainingRunScoringWindowNotOpen: too early (before the submission deadline)", async () => {
      const { run, signers, windowOf, nextTxAt } = await setup();
      await nextTxAt(windowOf(0).opensAt - 1);
      await reverts(
        run.connect(signers[10]).submitScores(0, HASH_A, "0x", "0x", "0x"),
        run,
        "TrainingRunScoringWindowNotOpen",
      );
    });

    it("TrainingRunScoringWindowClosed: too late", async () => {
      const { run, signers, windowOf, nextTxAt } = await setup();
      await nextTxAt(windowOf(0).closesAt);
      await reverts(
        run.connect(signers[10]).submitScores(0, HASH_A, "0x", "0x", "0x"),
        run,
        "TrainingRunScoringWindowClosed",
      );
    });

    it("accepted at the first and the last second of the window", async () => {
      const { run, signers, windowOf, nextTxAt } = await setup();
      await nextTxAt(windowOf(0).opensAt);
      await run.connect(signers[10]).submitScores(0, HASH_A, "0x", "0x", "0x");
      await nextTxAt(windowOf(0).closesAt - 1);
      await run.connect(signers[11]).submitScores(0, HASH_A, "0x", "0x", "0x");
      assert.equal(await run.submissionCount(0), 2n);
    });

    it("TrainingRunAlreadySubmitted: duplicate submission", async () => {
      const { run, signers, windowOf, setTime } = await setup();
      await setTime(windowOf(0).opensAt);
      await run.connect(signers[10]).submitScores(0, HASH_A, "0x", "0x", "0x");
      assert.equal(await run.hasSubmitted(0, signers[10].address), true);
      await reverts(
        run.connect(signers[10]).submitScores(0, HASH_B, "0x", "0x", "0x"),
        run,
        "TrainingRunAlreadySubmitted",
      );
    });

    it("TrainingRunZeroModelHash", async () => {
      const { run, signers, windowOf, setTime } = await setup();
      await setTime(windowOf(0).opensAt);
      await reverts(
        run.connect(signers[10]).submitScores(0, `0x${"00".repeat(32)}`, "0x", "0x", "0x"),
        run,
        "TrainingRunZeroModelHash",
      );
    });

    it("TrainingRunScoresLengthInvalid: odd length or more peers than registered", async () => {
      const { run, signers, windowOf, setTime } = await setup();
      await setTime(windowOf(0).opensAt);
      for (const scores of ["0x000100", scoresBytes([1, 2, 3])]) {
        await reverts(
          run.connect(signers[10]).submitScores(0, HASH_A, "0x", scores, "0x"),
          run,
          "TrainingRunScoresLengthInvalid",
        );
      }
    });

    it("TrainingRunPayloadsInvalid: partial entry, unsorted, repeated, or an unregistered index", async () => {
      const { run, signers, windowOf, setTime } = await setup();
      await setTime(windowOf(0).opensAt);
      const entry = (i: number) => Buffer.concat([Buffer.from([i >> 8, i & 0xff]), Buffer.alloc(32, 0xab)]);
      for (const bad of [
        Buffer.alloc(33),
        Buffer.concat([entry(1), entry(0)]),
        Buffer.concat([entry(0), entry(0)]),
        entry(2), // only peers 0 and 1 exist
      ]) {
        await reverts(
          run.connect(signers[10]).submitScores(0, HASH_A, bad, "0x", "0x"),
          run,
          "TrainingRunPayloadsInvalid",
        );
      }
      await run.connect(signers[10]).submitScores(0, HASH_A, Buffer.concat([entry(0), entry(1)]), "0x", "0x");
    });

    it("TrainingRunRoundAlreadyFinalized: no submission after an early finalize, no second finalize", async () => {
      const f = await setup();
      await f.setTime(f.windowOf(0).opensAt);
      await f.run.connect(f.signers[10]).submitScores(0, HASH_A, "0x", "0x", "0x");
      await f.run.connect(f.signers[11]).submitScores(0, HASH_A, "0x", "0x", "0x");
      await f.finalize(0);
      await reverts(f.run.finalizeRoundStep(0, 64), f.run, "TrainingRunRoundAlreadyFinalized");
    });
  });

  describe("finalizeRoundStep", () => {
    it("TrainingRunRoundHasNoSubmissions", async () => {
      const { run, windowOf, setTime } = await deployRun();
      await setTime(windowOf(0).closesAt);
      await reverts(run.finalizeRoundStep(0, 64), run, "TrainingRunRoundHasNoSubmissions");
    });

    it("TrainingRunZeroPageSize", async () => {
      const { run } = await deployRun();
      await reverts(run.finalizeRoundStep(0, 0), run, "TrainingRunZeroPageSize");
    });

    it("TrainingRunRoundNotFinalizable: too early while a snapshot validator has not submitted", async () => {
      const { run, signers, windowOf, nextTxAt, finalize } = await deployRun();
      await run.connect(signers[10]).stake({ value: ONE });
      await run.connect(signers[11]).stake({ value: ONE });
      await nextTxAt(windowOf(0).opensAt);
      await run.connect(signers[10]).submitScores(0, HASH_A, "0x", "0x", "0x");
      await nextTxAt(windowOf(0).closesAt - 1);
      await reverts(run.finalizeRoundStep(0, 64), run, "TrainingRunRoundNotFinalizable");
      await nextTxAt(windowOf(0).closesAt);
      assert.equal((await finalize(0)).skipped, true); // 1 of 2 ether is no quorum
    });

    it("TrainingRunPreviousRoundNotFinalized: rounds with submissions finalize in order", async () => {
      const { run, signers, windowOf, setTime, finalize } = await deployRun();
      await run.connect(signers[10]).stake({ value: ONE });
      await setTime(windowOf(0).opensAt);
      await run.connect(signers[10]).submitScores(0, HASH_A, "0x", "0x", "0x");
      await setTime(windowOf(1).opensAt);
      await run.connect(signers[10]).submitScores(1, HASH_B, "0x", "0x", "0x");
      await reverts(run.finalizeRoundStep(1, 64), run, "TrainingRunPreviousRoundNotFinalized");
      await finalize(0);
      await finalize(1);
      assert.equal(await run.modelHashOf(1), HASH_B);
    });
  });

  describe("checkpoints", () => {
    /** Rounds 0 and 1 finalized by validators 10 (3 ether, hash A/B) and 11 (1 ether, a different hash). */
    async function finalized() {
      const f = await deployRun();
      await f.run.connect(f.signers[10]).stake({ value: 3n * ONE });
      await f.run.connect(f.signers[11]).stake({ value: ONE });
      for (const r of [0, 1]) {
        await f.setTime(f.windowOf(r).opensAt);
        await f.run.connect(f.signers[10]).submitScores(r, r === 0 ? HASH_A : HASH_B, "0x", "0x", "0x");
        await f.run.connect(f.signers[11]).submitScores(r, `0x${"ee".repeat(32)}`, "0x", "0x", "0x");
        await f.finalize(r);
      }
      return f;
    }

    it("TrainingRunRoundNotFinalized", async () => {
      const { run, signers } = await finalized();
      await reverts(run.connect(signers[10]).recordCheckpoint(2, HASH_A, "x"), run, "TrainingRunRoundNotFinalized");
    });

    it("TrainingRunCheckpointHashMismatch", async () => {
      const { run, signers } = await finalized();
      await reverts(
        run.connect(signers[10]).recordCheckpoint(1, HASH_A, "x"),
        run,
        "TrainingRunCheckpointHashMismatch",
      );
    });

    it("TrainingRunCheckpointNotAllowed: a validator that disagreed, or did not submit", async () => {
      const { run, signers } = await finalized();
      await reverts(run.connect(signers[11]).recordCheckpoint(1, HASH_B, "x"), run, "TrainingRunCheckpointNotAllowed");
      await reverts(run.connect(signers[12]).recordCheckpoint(1, HASH_B, "x"), run, "TrainingRunCheckpointNotAllowed");
    });

    it("TrainingRunCheckpointAlreadyRecorded: once per validator and round", async () => {
      const { run, signers } = await finalized();
      await run.connect(signers[10]).recordCheckpoint(1, HASH_B, "blob:b");
      await reverts(
        run.connect(signers[10]).recordCheckpoint(1, HASH_B, "blob:c"),
        run,
        "TrainingRunCheckpointAlreadyRecorded",
      );
    });

    it("TrainingRunCheckpointNotNewer, and the latest checkpoint is kept", async () => {
      const { run, signers } = await finalized();
      await run.connect(signers[10]).recordCheckpoint(1, HASH_B, "blob:b");
      await reverts(
        run.connect(signers[10]).recordCheckpoint(0, HASH_A, "blob:a"),
        run,
        "TrainingRunCheckpointNotNewer",
      );
      assert.deepEqual([...(await run.latestCheckpoint())], [true, 1n, HASH_B]);
    });
  });

  it("TrainingRunNothingToClaim", async () => {
    const { run, signers } = await deployRun();
    await reverts(run.connect(signers[1]).claim(), run, "TrainingRunNothingToClaim");
  });

  it("RewardTokenUnauthorizedMinter: only the run mints", async () => {
    const { token, signers } = await deployRun();
    await reverts(token.connect(signers[1]).mint(signers[1].address, 1n), token, "RewardTokenUnauthorizedMinter");
  });
});
