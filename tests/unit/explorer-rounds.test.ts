import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PayloadEntry } from "../../node/chain/index.ts";
import { ExplorerModel, type IndexedEvent } from "../../node/explorer/index.ts";

const V = ["0x00000000000000000000000000000000000000A1", "0x00000000000000000000000000000000000000a2"];
const PEERS = ["0x00000000000000000000000000000000000000b0", "0x00000000000000000000000000000000000000b1"];
const hash = (b: string) => `0x${b.repeat(32)}`;
const TIMING = { genesis: 1000, roundSeconds: 20, submissionSeconds: 2, scoringSeconds: 10 };
/** Scoring window of round r closes at genesis + (r+1)·R + submission + scoring. */
const closesAt = (r: number) => TIMING.genesis + (r + 1) * 20 + 12;

/**
 * The explorer's read model on the events TrainingRun emits (node/chain/events.ts shapes), with the
 * run's clock: rounds nobody settled are listed as skipped, update hashes come from the payload list
 * behind the finalized hash, and a validator's page lists its submissions and rewards.
 */
describe("explorer model: skipped rounds, update hashes, validator pages", () => {
  let block = 1;
  const at = (time: number) => ({ blockNumber: block++, logIndex: 0, transactionHash: hash("cd"), timestamp: time });
  const submitted = (round: number, validator: string, model: string, payloads: PayloadEntry[]): IndexedEvent => ({
    name: "ScoresSubmitted",
    args: {
      round,
      validator,
      modelHash: hash(model),
      payloadRoot: hash(`${model.slice(0, 1)}${payloads.length}`),
      weight: 10n ** 18n,
      payloads,
      scores: [100, 50],
      components: [],
      roundComponents: [],
    },
    ...at(closesAt(round) - 5),
  });
  const finalized = (round: number, model: string, payloadRoot: string): IndexedEvent => ({
    name: "RoundFinalized",
    args: {
      round,
      modelHash: hash(model),
      payloadRoot,
      medians: [100, 50],
      included: [0, 1],
      gatherSet: [0, 1],
      totals: {
        submissions: 2,
        scoredPeers: 2,
        snapshotWeight: 3n,
        submittedWeight: 3n,
        agreeingWeight: 2n,
        scoreSum: 150n,
        peerRewards: 9n,
        validatorRewards: 1n,
      },
    },
    ...at(closesAt(round)),
  });
  const registered = (i: number): IndexedEvent => ({
    name: "PeerRegistered",
    args: { peer: PEERS[i], index: i, bond: 0n, metadata: "0x" },
    ...at(990),
  });
  const staked = (v: string): IndexedEvent => ({
    name: "ValidatorStaked",
    args: { validator: v, amount: 10n ** 18n, totalStake: 10n ** 18n },
    ...at(995),
  });
  const updates: PayloadEntry[] = [
    { index: 0, hash: "11".repeat(32) },
    { index: 1, hash: "22".repeat(32) },
  ];

  function run() {
    const m = new ExplorerModel();
    m.timing = TIMING;
    for (const ev of [registered(0), registered(1), staked(V[0]), staked(V[1])]) m.apply(ev);
    // Round 0: V0 saw both updates, V1 only peer 0's; V0's hash won. Round 1: nobody submitted.
    // Round 2: no quorum (RoundSkipped). Round 3: submitted, nobody finalized yet.
    const s0 = submitted(0, V[0], "aa", updates);
    m.apply(s0);
    m.apply(submitted(0, V[1], "bb", updates.slice(0, 1)));
    m.apply(finalized(0, "aa", s0.name === "ScoresSubmitted" ? s0.args.payloadRoot : ""));
    m.apply({ name: "ValidatorRewarded", args: { round: 0, validator: V[0], amount: 7n }, ...at(closesAt(0)) });
    m.apply(submitted(2, V[0], "cc", updates));
    m.apply({
      name: "RoundSkipped",
      args: { round: 2, submissions: 1, snapshotWeight: 2n, submittedWeight: 1n, bestWeight: 1n },
      ...at(closesAt(2)),
    });
    m.apply(submitted(3, V[1], "dd", updates));
    return m;
  }

  it("lists rounds that closed without a settlement as skipped, with the reason", () => {
    const m = run();
    // Indexed up to the close of round 3's scoring window: rounds 0..3 closed, round 4 not.
    m.indexed = { block: 100, time: closesAt(3), head: 100, polls: 1 };
    assert.equal(m.lastClosedRound(), 3);
    assert.deepEqual(
      m.listRounds().map((r) => [r.round, r.status, r.skipReason]),
      [
        [3, "not finalized", "not finalized"],
        [2, "skipped", "no quorum"],
        [1, "skipped", "no submissions"],
        [0, "finalized", null],
      ],
    );
    assert.equal(m.summary().roundsSkipped, 2);
    const r1 = m.getRound(1);
    assert.equal(r1?.status, "skipped");
    assert.equal(r1?.time, closesAt(1));
    assert.equal(r1?.modelHash, null);
    // A second before round 3's window closes it is still being scored; round 4 is not listed yet.
    m.indexed = { block: 100, time: closesAt(3) - 1, head: 100, polls: 2 };
    assert.deepEqual(
      m.listRounds().map((r) => r.status),
      ["scoring", "skipped", "skipped", "finalized"],
    );
    assert.equal(m.getRound(4), null);
    // Without the clock (or before the first poll) only rounds with events are known.
    m.timing = null;
    assert.deepEqual(
      m.listRounds().map((r) => r.round),
      [3, 2, 0],
    );
  });

  it("shows each peer's update hash from the payload list behind the finalized hash", () => {
    const m = run();
    const r0 = m.getRound(0);
    // V1's list lacked peer 1's update; the canonical (V0's) list has both.
    assert.deepEqual(
      r0?.peers.map((p) => p.updateHash),
      ["11".repeat(32), "22".repeat(32)],
    );
    // Not finalized: the one list all submissions so far agree on.
    assert.deepEqual(
      m.getRound(3)?.peers.map((p) => p.updateHash),
      ["11".repeat(32), "22".repeat(32)],
    );
    // Nothing was submitted for round 1 (listed once its window closed): no hashes.
    m.indexed = { block: 100, time: closesAt(3), head: 100, polls: 1 };
    assert.deepEqual(
      m.getRound(1)?.peers.map((p) => p.updateHash),
      [null, null],
    );
  });

  it("gives a validator a page with its stake, submissions and rewards", () => {
    const m = run();
    m.indexed = { block: 100, time: closesAt(3), head: 100, polls: 1 };
    const v0 = m.getPeer(V[0].toLowerCase());
    assert.equal(v0?.index, null);
    assert.equal(v0?.validator?.stake.wei, (10n ** 18n).toString());
    assert.equal(v0?.validator?.rewarded.wei, "7");
    assert.equal(v0?.earned.wei, "7");
    assert.deepEqual(
      v0?.validator?.submissions.map((s) => [s.round, s.status, s.agrees, s.includedCount, s.reward.wei]),
      [
        [2, "skipped", null, 2, "0"],
        [0, "finalized", true, 2, "7"],
      ],
    );
    assert.deepEqual(
      m.getPeer(V[1])?.validator?.submissions.map((s) => [s.round, s.agrees, s.includedCount]),
      [
        [3, null, 2],
        [0, false, 1],
      ],
    );
  });
});
