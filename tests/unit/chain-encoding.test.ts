import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ChainError,
  RoundClock,
  anvilBinary,
  decodeBitmap,
  decodeComponents,
  decodeScores,
  encodeBitmap,
  encodeComponents,
  encodeScores,
  parseDeployParams,
  weightedMedian,
} from "../../node/chain/index.ts";

describe("chain encodings", () => {
  it("scores: big-endian uint16 per peer, range-checked", () => {
    const b = encodeScores([0, 1, 256, 65535]);
    assert.deepEqual([...b], [0, 0, 0, 1, 1, 0, 255, 255]);
    assert.deepEqual(decodeScores(b), [0, 1, 256, 65535]);
    assert.throws(() => encodeScores([65536]), ChainError);
    assert.throws(() => encodeScores([1.5]), ChainError);
  });

  it("bitmaps: bit i of byte i/8, LSB first, shortest length", () => {
    assert.deepEqual([...encodeBitmap([0, 3, 9])], [0b1001, 0b10]);
    assert.deepEqual(decodeBitmap(encodeBitmap([9, 0, 3])), [0, 3, 9]);
    assert.equal(encodeBitmap([]).length, 0);
  });

  it("components: K then K int16 per peer, clamped", () => {
    const b = encodeComponents([
      [1, -2],
      [40000, -40000],
    ]);
    assert.equal(b[0], 2);
    assert.deepEqual(decodeComponents(b), [
      [1, -2],
      [32767, -32768],
    ]);
  });

  it("weighted median: lower median by stake", () => {
    assert.equal(weightedMedian([5, 1, 9], [1n, 1n, 1n]), 5);
    assert.equal(weightedMedian([1, 9], [1n, 1n]), 1); // exactly half reaches the lower value
    assert.equal(weightedMedian([1, 9], [1n, 2n]), 9);
    assert.equal(weightedMedian([], []), 0);
  });
});

describe("round clock (pure)", () => {
  const timing = { genesis: 1000, roundSeconds: 100, submissionSeconds: 10, scoringSeconds: 40 };

  it("places moments in rounds and phases", () => {
    const c = new RoundClock(timing);
    assert.equal(c.phaseAt(999).phase, "pre-genesis");
    assert.equal(c.phaseAt(999).secondsToNextBoundary, 1);
    assert.deepEqual(c.phaseAt(1005), {
      round: 0,
      phase: "submission",
      scoringRound: null,
      nextBoundary: 1010,
      secondsToNextBoundary: 5,
    });
    assert.deepEqual(c.phaseAt(1120), {
      round: 1,
      phase: "training",
      scoringRound: 0,
      nextBoundary: 1150,
      secondsToNextBoundary: 30,
    });
    assert.deepEqual(c.phaseAt(1160), {
      round: 1,
      phase: "training",
      scoringRound: null,
      nextBoundary: 1200,
      secondsToNextBoundary: 40,
    });
    assert.equal(c.submissionDeadline(0), 1110);
    assert.deepEqual(c.scoringWindow(0), { opensAt: 1110, closesAt: 1150 });
  });

  it("applies the offset from chain time", async () => {
    const provider = { getBlock: async () => ({ timestamp: 2000 }) } as never;
    const c = new RoundClock(timing, { provider, now: () => 1_500_000 });
    assert.equal(await c.sync(), 500);
    assert.equal(c.now(), 2000);
    assert.equal(c.currentRound(), 10);
  });
});

describe("deployment parameters", () => {
  it("fills defaults and rejects bad values with BAD_PARAMS", () => {
    const p = parseDeployParams({ roundSeconds: 60, submissionSeconds: 5, scoringSeconds: 30 });
    assert.equal(p.gatherSize, 16);
    assert.equal(p.rewardPerRound, "100");
    assert.throws(
      () => parseDeployParams({ roundSeconds: 60, submissionSeconds: 60 }),
      (e: unknown) => e instanceof ChainError && e.code === "BAD_PARAMS",
    );
    assert.throws(() => parseDeployParams({ bogus: 1 }), ChainError);
  });

  it("resolves the anvil binary from @foundry-rs/anvil's platform package", () => {
    assert.match(anvilBinary(), /@foundry-rs\/anvil-[a-z0-9]+-[a-z0-9]+\/bin\/anvil/);
  });
});
