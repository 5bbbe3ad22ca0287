import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { prng } from "../fixtures/prng.ts";
import { HASH_A, HASH_B, ROUND, deployRun, reverts } from "./fixture.ts";

const HASH_0 = `0x${"11".repeat(32)}`; // the fixture's deploy-time configHash
const ZERO = `0x${"00".repeat(32)}`;

/** The JS reference of configHashAt: the last entry whose fromRound <= round (entry 0 starts at round 0). */
function hashAt(timeline: { fromRound: number; hash: string }[], round: number): string {
  let out = timeline[0].hash;
  for (const e of timeline) if (e.fromRound <= round) out = e.hash;
  return out;
}

describe("TrainingRun config timeline", () => {
  it("TrainingRun's deployed code still fits the EIP-170 limit of 24,576 bytes", async () => {
    const { run, ethers } = await deployRun();
    const code = await ethers.provider.getCode(await run.getAddress());
    const bytes = (code.length - 2) / 2;
    assert.ok(bytes <= 24_576, `${bytes} bytes`);
  });

  it("starts with entry 0 = (0, deploy-time hash) and the deployer as operator", async () => {
    const { run, signers } = await deployRun();
    assert.equal(await run.owner(), signers[0].address);
    assert.equal(await run.configCount(), 1n);
    assert.deepEqual([...(await run.configAt(0))], [0n, HASH_0]);
    assert.equal(await run.configHash(), HASH_0);
    assert.equal(await run.configHashAt(0), HASH_0);
    assert.equal(await run.configHashAt(10n ** 30n), HASH_0);
    assert.equal((await run.runParams()).configHash, HASH_0);
  });

  it("appendConfig: the operator appends; ConfigAppended; configHashAt switches at fromRound; configHash() stays entry 0", async () => {
    const { run, genesis, setTime } = await deployRun();
    await setTime(genesis + 3 * ROUND + 1); // round 3: the earliest is 5
    const rc = await (await run.appendConfig(5, HASH_A)).wait();
    const ev = rc.logs
      .map((l: never) => run.interface.parseLog(l))
      .find((e: { name: string }) => e?.name === "ConfigAppended");
    assert.deepEqual([...ev.args], [5n, HASH_A]);
    await (await run.appendConfig(9, HASH_B)).wait();
    assert.equal(await run.configCount(), 3n);
    assert.deepEqual([...(await run.configAt(1))], [5n, HASH_A]);
    assert.deepEqual([...(await run.configAt(2))], [9n, HASH_B]);
    const want: [number, string][] = [
      [0, HASH_0],
      [4, HASH_0],
      [5, HASH_A],
      [8, HASH_A],
      [9, HASH_B],
      [1000, HASH_B],
    ];
    for (const [round, hash] of want) assert.equal(await run.configHashAt(round), hash, `round ${round}`);
    assert.equal(await run.configHash(), HASH_0);
    assert.equal((await run.runParams()).configHash, HASH_0);
  });

  it("before genesis the earliest round is 2", async () => {
    const { run } = await deployRun();
    await reverts(run.appendConfig(1, HASH_A), run, "TrainingRunConfigTooSoon");
    await (await run.appendConfig(2, HASH_A)).wait();
    assert.equal(await run.configHashAt(2), HASH_A);
  });

  it("ownership is handed over in two steps; then only the new operator appends", async () => {
    const { run, signers, genesis, setTime } = await deployRun();
    const [old, next] = [signers[0], signers[5]];
    await (await run.transferOwnership(next.address)).wait();
    assert.equal(await run.owner(), old.address); // not yet: the new operator must accept
    assert.equal(await run.pendingOwner(), next.address);
    await (await run.appendConfig(4, HASH_A)).wait(); // the old operator still may
    await (await run.connect(next).acceptOwnership()).wait();
    assert.equal(await run.owner(), next.address);
    await setTime(genesis + 10 * ROUND);
    await reverts(run.connect(old).appendConfig(12, HASH_B), run, "OwnableUnauthorizedAccount");
    await (await run.connect(next).appendConfig(12, HASH_B)).wait();
    assert.deepEqual([...(await run.configAt(2))], [12n, HASH_B]);
  });

  it("configAt past the end reverts with TrainingRunConfigIndexOutOfRange", async () => {
    const { run } = await deployRun();
    await reverts(run.configAt(1), run, "TrainingRunConfigIndexOutOfRange");
  });
});

/** One test per revert path of appendConfig; each leaves the timeline as it was. */
describe("TrainingRun config timeline reverts", () => {
  it("OwnableUnauthorizedAccount: only the operator appends", async () => {
    const { run, signers } = await deployRun();
    await reverts(run.connect(signers[1]).appendConfig(5, HASH_A), run, "OwnableUnauthorizedAccount");
    assert.equal(await run.configCount(), 1n);
  });

  it("TrainingRunConfigTooSoon: fromRound < currentRound + 2", async () => {
    const { run, genesis, setTime } = await deployRun();
    await setTime(genesis + 7 * ROUND + ROUND - 2); // the last second of round 7
    await assert.rejects(run.appendConfig(8, HASH_A), (err: { data?: string; message?: string }) => {
      const parsed = err.data ? run.interface.parseError(err.data) : null;
      assert.deepEqual([parsed?.name, ...(parsed?.args ?? [])], ["TrainingRunConfigTooSoon", 8n, 9n], err.message);
      return true;
    });
    await reverts(run.appendConfig(8, HASH_A), run, "TrainingRunConfigTooSoon");
    assert.equal(await run.configCount(), 1n);
  });

  it("TrainingRunConfigNotAfterLast: fromRound must pass the last entry's", async () => {
    const { run } = await deployRun();
    await (await run.appendConfig(6, HASH_A)).wait();
    await reverts(run.appendConfig(6, HASH_B), run, "TrainingRunConfigNotAfterLast");
    await reverts(run.appendConfig(5, HASH_B), run, "TrainingRunConfigNotAfterLast");
    assert.equal(await run.configCount(), 2n);
  });

  it("TrainingRunZeroConfigHash", async () => {
    const { run } = await deployRun();
    await reverts(run.appendConfig(5, ZERO), run, "TrainingRunZeroConfigHash");
    assert.equal(await run.configCount(), 1n);
  });
});

describe("TrainingRun config timeline against the JS reference", () => {
  it("configHashAt matches the reference over 3 random timelines (accepted and refused appends)", async () => {
    const rand = prng(20261130);
    for (let t = 0; t < 3; t++) {
      const { run, genesis, setTime } = await deployRun();
      const timeline = [{ fromRound: 0, hash: HASH_0 }];
      let now = 0;
      let time = genesis;
      for (let k = 0; k < 12; k++) {
        // Never in a round's last seconds, so the append's block (a second or two later) is in the same round.
        const offset = Math.floor(rand() * (ROUND - 10));
        time = Math.max(time + 3, genesis + (now + Math.floor(rand() * 4)) * ROUND + offset);
        if ((time - genesis) % ROUND > ROUND - 5) time += 5;
        now = Math.floor((time - genesis) / ROUND);
        await setTime(time);
        const last = timeline[timeline.length - 1].fromRound;
        // Around the two bounds, so both refusals and acceptances are common.
        const fromRound = Math.max(last, now + 2) + Math.floor(rand() * 4) - 2;
        const hash = `0x${(k + 1).toString(16).padStart(2, "0").repeat(32)}`;
        const ok = fromRound >= now + 2 && fromRound > last;
        if (ok) {
          await (await run.appendConfig(fromRound, hash)).wait();
          timeline.push({ fromRound, hash });
        } else {
          await assert.rejects(run.appendConfig(fromRound, hash));
        }
      }
      assert.equal(await run.configCount(), BigInt(timeline.length));
      assert.ok(timeline.length >= 4, `timeline ${t} has only ${timeline.length} entries`);
      const end = timeline[timeline.length - 1].fromRound + 2;
      for (let r = 0; r <= end; r++)
        assert.equal(await run.configHashAt(r), hashAt(timeline, r), `timeline ${t} round ${r}`);
    }
  });
});
