import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BOND, HASH_A, ONE, decodeScores, deployRun, payloads, scoresBytes } from "./fixture.ts";

type Fixture = Awaited<ReturnType<typeof deployRun>>;

/** One round scored by validator signers[10] (alone in the snapshot, so it finalizes early). */
async function scoreRound(f: Fixture, round: number, scores: number[]) {
  await f.setTime(f.windowOf(round).opensAt);
  await f.run.connect(f.signers[10]).submitScores(round, HASH_A, payloads([0], round), scoresBytes(scores), "0x");
  return f.finalize(round);
}

async function exitEvent(f: Fixture, who: (typeof f.signers)[number]) {
  const before: bigint = await f.ethers.provider.getBalance(who.address);
  const rc = (await (await f.run.connect(who).exitPeer()).wait()) as {
    gasUsed: bigint;
    gasPrice: bigint;
    logs: never[];
  };
  const after: bigint = await f.ethers.provider.getBalance(who.address);
  const ev = rc.logs.map((l) => f.run.interface.parseLog(l)).find((e) => e !== null);
  assert.ok(ev);
  return { ev, received: after - before + rc.gasUsed * rc.gasPrice };
}

/** The bonded registry: refund rule, slot reuse, and what a re-let slot inherits (nothing). */
describe("TrainingRun peer registry", () => {
  async function setup(overrides = {}) {
    const f = await deployRun(overrides);
    await f.run.connect(f.signers[10]).stake({ value: ONE });
    return f;
  }

  it("exit in good standing refunds the bond and frees the slot; the next peer takes it", async () => {
    const f = await setup();
    const [peer, next] = [f.signers[1], f.signers[2]];
    await f.register(peer);
    await scoreRound(f, 0, [30000]);
    await scoreRound(f, 1, [30000]); // positive median: proven, no strikes
    const owed = await f.run.pendingRewards(peer.address);
    const { ev, received } = await exitEvent(f, peer);
    assert.deepEqual([ev.name, ev.args.peer, ev.args.index, ev.args.refund], ["PeerExited", peer.address, 0n, BOND]);
    assert.equal(received, BOND);
    assert.equal(await f.run.isPeer(peer.address), false);
    assert.equal(await f.run.peerAt(0), `0x${"00".repeat(20)}`);
    assert.equal(await f.run.activePeerCount(), 0n);
    assert.equal(await f.run.pendingRewards(peer.address), owed); // rewards stay claimable
    await f.run.connect(peer).claim();
    await f.register(next);
    assert.equal(await f.run.peerIndex(next.address), 0n); // the freed slot, not a new one
    assert.equal(await f.run.peerCount(), 1n);
    const info = await f.run.peerInfo(0);
    assert.deepEqual([info.account, info.rating, info.strikes, info.proven], [next.address, 0n, 0n, false]);
  });

  it("exit forfeits the bond of a peer that never earned a positive median, or has strikes", async () => {
    const f = await setup();
    const [fresh, striker] = [f.signers[1], f.signers[2]];
    await f.register(fresh);
    const a = await exitEvent(f, fresh);
    assert.deepEqual([a.ev.args.refund, a.received], [0n, 0n]);

    await f.register(striker); // takes slot 0 again
    await scoreRound(f, 0, [30000]); // proven
    await scoreRound(f, 1, [0]); // one strike
    assert.deepEqual([(await f.run.peerInfo(0)).strikes, (await f.run.peerInfo(0)).proven], [1n, true]);
    const b = await exitEvent(f, striker);
    assert.deepEqual([b.ev.args.refund, b.received], [0n, 0n]);
    assert.equal(await f.run.forfeitedBonds(), 2n * BOND);
  });

  it("strikes reset on a positive median; eviction only after evictAfterRounds zero rounds in a row", async () => {
    const f = await setup({ evictAfterRounds: 2 });
    await f.register(f.signers[1]);
    await scoreRound(f, 0, [0]); // the registration round: no strike
    await scoreRound(f, 1, [0]); // strike 1
    await scoreRound(f, 2, [500]); // reset
    await scoreRound(f, 3, [0]); // strike 1
    assert.equal((await f.run.peerInfo(0)).strikes, 1n);
    const { logs } = await scoreRound(f, 4, [0]); // strike 2: evicted
    const ev = logs.find((e) => e.name === "PeerEvicted")!;
    assert.deepEqual(
      [ev.args.peer, ev.args.index, ev.args.round, ev.args.forfeited],
      [f.signers[1].address, 0n, 4n, BOND],
    );
    assert.equal(await f.run.isPeer(f.signers[1].address), false);
    // The evicted slot is not in the next gather set.
    const fin = logs.find((e) => e.name === "RoundFinalized")!;
    assert.equal(fin.args.gatherSet, "0x00");
  });

  it("a re-let slot does not inherit scores given to its previous holder", async () => {
    const f = await setup({ evictAfterRounds: 1 });
    const [old, newcomer] = [f.signers[1], f.signers[2]];
    await f.register(old);
    const v = f.signers[10];
    // Round 1: the old holder scores 0 (it is evicted when round 1 is finalized). Round 2 is scored
    // before that finalize, for index 0 — meaning the old holder.
    await f.setTime(f.windowOf(1).opensAt);
    await f.run.connect(v).submitScores(1, HASH_A, "0x", scoresBytes([0]), "0x");
    await f.setTime(f.windowOf(2).opensAt);
    await f.run.connect(v).submitScores(2, HASH_A, payloads([0], 2), scoresBytes([50000]), "0x");
    await f.finalize(1);
    assert.equal(await f.run.isPeer(old.address), false);
    await f.register(newcomer); // takes slot 0 in round 3
    assert.equal((await f.run.peerInfo(0)).registeredRound, 3n);
    const { logs } = await f.finalize(2);
    const fin = logs.find((e) => e.name === "RoundFinalized")!;
    assert.deepEqual(decodeScores(fin.args.medians), [0]);
    assert.equal(fin.args.totals.scoredPeers, 0n);
    assert.equal(await f.run.pendingRewards(newcomer.address), 0n);
    assert.equal((await f.run.peerInfo(0)).strikes, 0n); // and no strike either
  });
});
