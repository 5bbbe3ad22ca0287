import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HASH_A, HASH_B, ONE, ROUND, bitmap, deployRun, reverts, scoresBytes } from "./fixture.ts";

/** One test per custom error / revert path of TrainingRun and RewardToken. */
describe("TrainingRun reverts", () => {
  it("TrainingRunInvalidParams: bad constructor parameters", async () => {
    const { ethers } = await deployRun();
    const base = (await deployRun()).params;
    const Factory = await ethers.getContractFactory("TrainingRun");
    for (const [key, value] of [
      ["roundSeconds", 0],
      ["submissionSeconds", ROUND],
      ["scoringSeconds", ROUND + 1],
      ["gatherSize", 0],
      ["maxPeers", 0],
      ["maxValidators", 0],
      ["validatorShareBps", 10_001],
      ["ratingAlphaBps", 0],
      ["minStake", 0],
    ] as const) {
      await reverts(Factory.deploy({ ...base, [key]: value }, "t", "T"), Factory, "TrainingRunInvalidParams");
    }
  });

  it("TrainingRunNotStarted: currentRound before genesis", async () => {
    const { run, genesis, setTime } = await deployRun();
    await reverts(run.currentRound(), run, "TrainingRunNotStarted");
    await setTime(genesis + ROUND * 2 + 5);
    assert.equal(await run.currentRound(), 2n);
  });

  it("PeerAlreadyRegistered", async () => {
    const { run, signers } = await deployRun();
    await run.connect(signers[1]).registerPeer("0x");
    await reverts(run.connect(signers[1]).registerPeer("0x"), run, "PeerAlreadyRegistered");
  });

  it("PeerRegistryFull at maxPeers", async () => {
    const { run, signers } = await deployRun({ maxPeers: 2 });
    await run.connect(signers[1]).registerPeer("0x");
    await run.connect(signers[2]).registerPeer("0x");
    await reverts(run.connect(signers[3]).registerPeer("0x"), run, "PeerRegistryFull");
  });

  it("PeerNotRegistered from peerIndex", async () => {
    const { run, signers } = await deployRun();
    await reverts(run.peerIndex(signers[5].address), run, "PeerNotRegistered");
  });

  it("StakeZero", async () => {
    const { run, signers } = await deployRun();
    await reverts(run.connect(signers[1]).stake({ value: 0 }), run, "StakeZero");
  });

  it("StakeBelowMinimum on the first stake", async () => {
    const { run, signers } = await deployRun();
    await reverts(run.connect(signers[1]).stake({ value: ONE - 1n }), run, "StakeBelowMinimum");
    await run.connect(signers[1]).stake({ value: ONE });
    await run.connect(signers[1]).stake({ value: 1n }); // a top-up may be any amount
  });

  it("StakeTooLarge above uint96", async () => {
    const { run, signers, ethers } = await deployRun();
    await ethers.provider.send("hardhat_setBalance", [signers[1].address, `0x${(2n ** 100n).toString(16)}`]);
    await reverts(run.connect(signers[1]).stake({ value: 2n ** 96n }), run, "StakeTooLarge");
  });

  it("ValidatorSetFull at maxValidators", async () => {
    const { run, signers } = await deployRun({ maxValidators: 1 });
    await run.connect(signers[1]).stake({ value: ONE });
    await reverts(run.connect(signers[2]).stake({ value: ONE }), run, "ValidatorSetFull");
  });

  it("ValidatorNotStaked: requestUnstake, submitScores, recordCheckpoint", async () => {
    const { run, signers, windowOf, setTime } = await deployRun();
    await reverts(run.connect(signers[1]).requestUnstake(), run, "ValidatorNotStaked");
    await setTime(windowOf(0).opensAt);
    await reverts(run.connect(signers[1]).submitScores(0, HASH_A, "0x", "0x", "0x"), run, "ValidatorNotStaked");
    await reverts(run.connect(signers[1]).recordCheckpoint(0, HASH_A, "x"), run, "ValidatorNotStaked");
  });

  it("UnstakePending: stake or request again while unstaking", async () => {
    const { run, signers } = await deployRun();
    await run.connect(signers[1]).stake({ value: ONE });
    await run.connect(signers[1]).requestUnstake();
    await reverts(run.connect(signers[1]).stake({ value: ONE }), run, "UnstakePending");
    await reverts(run.connect(signers[1]).requestUnstake(), run, "UnstakePending");
  });

  it("NoUnstakeRequested", async () => {
    const { run, signers } = await deployRun();
    await run.connect(signers[1]).stake({ value: ONE });
    await reverts(run.connect(signers[1]).withdraw(), run, "NoUnstakeRequested");
  });

  it("UnstakeDelayNotElapsed, then withdraw pays the stake back", async () => {
    const { run, signers, ethers, nextTxAt } = await deployRun();
    const v = signers[1];
    await run.connect(v).stake({ value: 3n * ONE });
    await run.connect(v).requestUnstake();
    const [, at] = await run.stakeOf(v.address);
    assert.equal(await run.isValidator(v.address), false);
    await nextTxAt(Number(at) - 1);
    await reverts(run.connect(v).withdraw(), run, "UnstakeDelayNotElapsed");
    await nextTxAt(Number(at));
    const balanceBefore: bigint = await ethers.provider.getBalance(v.address);
    const tx = await run.connect(v).withdraw();
    const rc = (await tx.wait()) as { gasUsed: bigint; gasPrice: bigint };
    const balanceAfter: bigint = await ethers.provider.getBalance(v.address);
    assert.equal(balanceAfter - balanceBefore + rc.gasUsed * rc.gasPrice, 3n * ONE);
    assert.deepEqual([...(await run.stakeOf(v.address))], [0n, 0n]);
    await reverts(run.connect(v).withdraw(), run, "NoUnstakeRequested");
  });

  it("TransferFailed when the validator cannot receive ether", async () => {
    const { run, ethers, setTime } = await deployRun();
    const rejecter = await ethers.deployContract("EtherRejecter", [await run.getAddress()]);
    await rejecter.stake({ value: ONE });
    await rejecter.requestUnstake();
    const [, at] = await run.stakeOf(await rejecter.getAddress());
    await setTime(Number(at));
    await reverts(rejecter.withdraw(), run, "TransferFailed");
  });

  describe("submitScores", () => {
    async function setup() {
      const f = await deployRun();
      await f.run.connect(f.signers[1]).registerPeer("0x");
      await f.run.connect(f.signers[2]).registerPeer("0x");
      await f.run.connect(f.signers[10]).stake({ value: ONE });
      await f.run.connect(f.signers[11]).stake({ value: ONE });
      return f;
    }

    it("ScoringWindowNotOpen: too early (before the submission deadline)", async () => {
      const { run, signers, windowOf, nextTxAt } = await setup();
      await nextTxAt(windowOf(0).opensAt - 1);
      await reverts(run.connect(signers[10]).submitScores(0, HASH_A, "0x", "0x", "0x"), run, "ScoringWindowNotOpen");
    });

    it("ScoringWindowClosed: too late", async () => {
      const { run, signers, windowOf, nextTxAt } = await setup();
      await nextTxAt(windowOf(0).closesAt);
      await reverts(run.connect(signers[10]).submitScores(0, HASH_A, "0x", "0x", "0x"), run, "ScoringWindowClosed");
    });

    it("accepted at the first and the last second of the window", async () => {
      const { run, signers, windowOf, nextTxAt } = await setup();
      await nextTxAt(windowOf(0).opensAt);
      await run.connect(signers[10]).submitScores(0, HASH_A, "0x", "0x", "0x");
      await nextTxAt(windowOf(0).closesAt - 1);
      await run.connect(signers[11]).submitScores(0, HASH_A, "0x", "0x", "0x");
      assert.equal(await run.submissionCount(0), 2n);
    });

    it("AlreadySubmitted: duplicate submission", async () => {
      const { run, signers, windowOf, setTime } = await setup();
      await setTime(windowOf(0).opensAt);
      await run.connect(signers[10]).submitScores(0, HASH_A, "0x", "0x", "0x");
      assert.equal(await run.hasSubmitted(0, signers[10].address), true);
      await reverts(run.connect(signers[10]).submitScores(0, HASH_B, "0x", "0x", "0x"), run, "AlreadySubmitted");
    });

    it("ZeroModelHash", async () => {
      const { run, signers, windowOf, setTime } = await setup();
      await setTime(windowOf(0).opensAt);
      await reverts(
        run.connect(signers[10]).submitScores(0, `0x${"00".repeat(32)}`, "0x", "0x", "0x"),
        run,
        "ZeroModelHash",
      );
    });

    it("ScoresLengthInvalid: odd length or more peers than registered", async () => {
      const { run, signers, windowOf, setTime } = await setup();
      await setTime(windowOf(0).opensAt);
      await reverts(
        run.connect(signers[10]).submitScores(0, HASH_A, "0x", "0x000100", "0x"),
        run,
        "ScoresLengthInvalid",
      );
      await reverts(
        run.connect(signers[10]).submitScores(0, HASH_A, "0x", scoresBytes([1, 2, 3]), "0x"),
        run,
        "ScoresLengthInvalid",
      );
    });

    it("BitmapLengthInvalid: longer than the registry needs", async () => {
      const { run, signers, windowOf, setTime } = await setup();
      await setTime(windowOf(0).opensAt);
      await reverts(run.connect(signers[10]).submitScores(0, HASH_A, "0x0100", "0x", "0x"), run, "BitmapLengthInvalid");
      await run.connect(signers[10]).submitScores(0, HASH_A, bitmap([0, 1], 2), scoresBytes([5, 6]), "0x");
    });

    it("RoundAlreadyFinalized: a late staker cannot submit after an early finalize", async () => {
      const { run, signers, windowOf, setTime } = await setup();
      await setTime(windowOf(0).opensAt);
      await run.connect(signers[10]).submitScores(0, HASH_A, "0x", "0x", "0x");
      await run.connect(signers[11]).submitScores(0, HASH_A, "0x", "0x", "0x");
      await run.finalizeRound(0);
      await run.connect(signers[12]).stake({ value: ONE });
      await reverts(run.connect(signers[12]).submitScores(0, HASH_A, "0x", "0x", "0x"), run, "RoundAlreadyFinalized");
      await reverts(run.finalizeRound(0), run, "RoundAlreadyFinalized");
    });
  });

  describe("finalizeRound", () => {
    it("RoundHasNoSubmissions", async () => {
      const { run, windowOf, setTime } = await deployRun();
      await setTime(windowOf(0).closesAt);
      await reverts(run.finalizeRound(0), run, "RoundHasNoSubmissions");
    });

    it("RoundNotFinalizable: too early while a staked validator has not submitted", async () => {
      const { run, signers, windowOf, nextTxAt } = await deployRun();
      await run.connect(signers[10]).stake({ value: ONE });
      await run.connect(signers[11]).stake({ value: ONE });
      await nextTxAt(windowOf(0).opensAt);
      await run.connect(signers[10]).submitScores(0, HASH_A, "0x", "0x", "0x");
      await nextTxAt(windowOf(0).closesAt - 1);
      await reverts(run.finalizeRound(0), run, "RoundNotFinalizable");
      await nextTxAt(windowOf(0).closesAt);
      await run.finalizeRound(0);
    });

    it("PreviousRoundNotFinalized: rounds with submissions finalize in order", async () => {
      const { run, signers, windowOf, setTime } = await deployRun();
      await run.connect(signers[10]).stake({ value: ONE });
      await run.connect(signers[11]).stake({ value: ONE });
      await setTime(windowOf(0).opensAt);
      await run.connect(signers[10]).submitScores(0, HASH_A, "0x", "0x", "0x");
      await setTime(windowOf(1).opensAt);
      await run.connect(signers[10]).submitScores(1, HASH_B, "0x", "0x", "0x");
      await setTime(windowOf(1).closesAt);
      await reverts(run.finalizeRound(1), run, "PreviousRoundNotFinalized");
      await run.finalizeRound(0);
      await run.finalizeRound(1);
      assert.equal(await run.modelHashOf(1), HASH_B);
    });
  });

  describe("checkpoints", () => {
    async function finalized() {
      const f = await deployRun();
      await f.run.connect(f.signers[10]).stake({ value: ONE });
      for (const r of [0, 1]) {
        await f.setTime(f.windowOf(r).opensAt);
        await f.run.connect(f.signers[10]).submitScores(r, r === 0 ? HASH_A : HASH_B, "0x", "0x", "0x");
        await f.run.finalizeRound(r); // early: the only validator submitted
      }
      return f;
    }

    it("RoundNotFinalized", async () => {
      const { run, signers } = await finalized();
      await reverts(run.connect(signers[10]).recordCheckpoint(2, HASH_A, "x"), run, "RoundNotFinalized");
    });

    it("CheckpointHashMismatch", async () => {
      const { run, signers } = await finalized();
      await reverts(run.connect(signers[10]).recordCheckpoint(1, HASH_A, "x"), run, "CheckpointHashMismatch");
    });

    it("CheckpointNotNewer, and the latest checkpoint is kept", async () => {
      const { run, signers } = await finalized();
      await run.connect(signers[10]).recordCheckpoint(1, HASH_B, "blob://b");
      await reverts(run.connect(signers[10]).recordCheckpoint(0, HASH_A, "blob://a"), run, "CheckpointNotNewer");
      assert.deepEqual([...(await run.latestCheckpoint())], [true, 1n, HASH_B]);
    });
  });

  it("NothingToClaim", async () => {
    const { run, signers } = await deployRun();
    await reverts(run.connect(signers[1]).claim(), run, "NothingToClaim");
  });

  it("RewardTokenUnauthorizedMinter: only the run mints", async () => {
    const { token, signers } = await deployRun();
    await reverts(token.connect(signers[1]).mint(signers[1].address, 1n), token, "RewardTokenUnauthorizedMinter");
  });
});
