import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HASH_A, HASH_B, ONE, deployRun, payloads, scoresBytes } from "./fixture.ts";

const ZERO = `0x${"00".repeat(32)}`;

/**
 * Issue 18: "one validator that missed the only update submitted first and its hash won a 50/50 stake
 * tie, so the model did not move and the next round was all wrong_base_hash". Under TrainingRun v2's
 * quorum (docs/contract.md "Quorum") a hash needs MORE than half of the snapshot stake, so an even
 * split has no winner: the round is skipped, θ_{r+1} = θ_r on every node, nobody is paid. Submitting
 * first decides nothing. These tests assert the outcome: which hash is canonical and who is paid.
 */
describe("TrainingRun ties: a validator that saw less cannot win", () => {
  it("a 50/50 split between a validator that missed the update (first) and one that saw it: skipped", async () => {
    const f = await deployRun();
    const peer = f.signers[1];
    await f.register(peer); // index 0: the round's only update
    const [missed, saw] = [f.signers[10], f.signers[11]];
    await f.run.connect(missed).stake({ value: ONE });
    await f.run.connect(saw).stake({ value: ONE });
    await f.setTime(f.windowOf(0).opensAt);
    // The validator that never got the payload submits first: θ_1 = θ_0 (HASH_B), an empty list.
    await f.run.connect(missed).submitScores(0, HASH_B, payloads([]), scoresBytes([0]), "0x");
    await f.run.connect(saw).submitScores(0, HASH_A, payloads([0]), scoresBytes([65535]), "0x");
    const { logs, skipped } = await f.finalize(0); // early: both snapshot validators submitted
    assert.equal(skipped, true);
    const ev = logs.find((e) => e.name === "RoundSkipped")!;
    assert.deepEqual([ev.args.snapshotWeight, ev.args.submittedWeight, ev.args.bestWeight], [2n * ONE, 2n * ONE, ONE]);
    assert.equal(await f.run.modelHashOf(0), ZERO, "neither hash is canonical");
    for (const a of [peer, missed, saw]) assert.equal(await f.run.pendingRewards(a.address), 0n);
    // The next round is not poisoned: both validators agree on θ_0's successor and it finalizes.
    await f.setTime(f.windowOf(1).opensAt);
    for (const v of [missed, saw]) {
      await f.run.connect(v).submitScores(1, HASH_A, payloads([0], 1), scoresBytes([65535]), "0x");
    }
    assert.equal((await f.finalize(1)).skipped, false);
    assert.equal(await f.run.modelHashOf(1), HASH_A);
  });

  it("when the validators that saw the update hold the majority, their hash wins even if submitted last", async () => {
    const f = await deployRun();
    const peer = f.signers[1];
    await f.register(peer);
    const [missed, saw1, saw2] = [f.signers[10], f.signers[11], f.signers[12]];
    for (const v of [missed, saw1, saw2]) await f.run.connect(v).stake({ value: ONE });
    await f.setTime(f.windowOf(0).opensAt);
    await f.run.connect(missed).submitScores(0, HASH_B, payloads([]), scoresBytes([0]), "0x");
    for (const v of [saw1, saw2]) {
      await f.run.connect(v).submitScores(0, HASH_A, payloads([0]), scoresBytes([65535]), "0x");
    }
    const { logs, skipped } = await f.finalize(0);
    assert.equal(skipped, false);
    const fin = logs.find((e) => e.name === "RoundFinalized")!;
    assert.equal(fin.args.modelHash, HASH_A);
    assert.equal(await f.run.modelHashOf(0), HASH_A);
    // The included update's author is paid; the validator that saw less is not.
    assert.ok((await f.run.pendingRewards(peer.address)) > 0n);
    assert.equal(await f.run.pendingRewards(missed.address), 0n);
    assert.ok((await f.run.pendingRewards(saw1.address)) > 0n);
  });
});
