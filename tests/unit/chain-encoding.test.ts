import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ChainError,
  RoundClock,
  anvilBinary,
  decodeBitmap,
  decodeComponents,
  decodeRoundComponents,
  decodeScores,
  MAX_ROUND_COMPONENTS,
  encodeBitmap,
  encodeComponents,
  encodeScores,
  PAYLOAD_ENTRY_BYTES,
  decodePayloads,
  encodePayloads,
  parseDeployParams,
  payloadRoot,
  weightedMedian,
} from "../../node/chain/index.ts";
import { keccak256 } from "ethers";

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

  it("components with per-round values: 0x00, version 1, S int16, then K and the rows; old bytes still decode", () => {
    const rows = [
      [1, -2],
      [3, 4],
    ];
    const b = encodeComponents(rows, [5123, -32768]);
    assert.deepEqual([...b.subarray(0, 8)], [0, 1, 2, 0x14, 0x03, 0x80, 0x00, 2]);
    assert.deepEqual(decodeComponents(b), rows);
    assert.deepEqual(decodeRoundComponents(b), [5123, -32768]);
    // no round values: exactly the per-peer-only layout (one-stage runs emit what they did before)
    assert.deepEqual([...encodeComponents(rows, [])], [...encodeComponents(rows)]);
    const legacy = encodeComponents(rows);
    assert.deepEqual(decodeComponents(legacy), rows);
    assert.deepEqual(decodeRoundComponents(legacy), []);
    assert.deepEqual(decodeComponents(new Uint8Array([0])), []);
    assert.deepEqual(decodeComponents(new Uint8Array()), []);
    // round values without peer rows
    const alone = encodeComponents([], [7]);
    assert.deepEqual(decodeRoundComponents(alone), [7]);
    assert.deepEqual(decodeComponents(alone), []);
    assert.throws(() => encodeComponents(rows, [Number.NaN]), /round component 0/);
    assert.throws(() => encodeComponents(rows, new Array(MAX_ROUND_COMPONENTS + 1).fill(1)), /at most/);
  });

  it("components: a hostile header (unknown version, count over the cap, truncated) decodes as nothing", () => {
    const rows = encodeComponents([[1, 2]]);
    const withHeader = (h: number[]) => Uint8Array.from([...h, ...rows]);
    for (const h of [
      [0, 2, 1, 0, 5], // unknown version
      [0, 1, MAX_ROUND_COMPONENTS + 1], // count over the cap
    ]) {
      assert.deepEqual(decodeRoundComponents(withHeader(h)), [], `header ${h}`);
      assert.deepEqual(decodeComponents(withHeader(h)), [], `header ${h}`);
    }
    // truncated: no count, or a count that runs past the end
    assert.deepEqual(decodeRoundComponents(Uint8Array.from([0, 1])), []);
    assert.deepEqual(decodeRoundComponents(Uint8Array.from([0, 1, 40, 0, 1])), []);
    assert.deepEqual(decodeComponents(Uint8Array.from([0, 1, 40, 0, 1])), []);
    // the biggest well-formed header is read in full
    const max = encodeComponents([[9]], new Array(MAX_ROUND_COMPONENTS).fill(3));
    assert.equal(decodeRoundComponents(max).length, MAX_ROUND_COMPONENTS);
    assert.deepEqual(decodeComponents(max), [[9]]);
  });

  it("payload lists: sorted (uint16 index, sha256) entries; root = keccak256; bad entries refused", () => {
    const h = (b: string) => b.repeat(32);
    const list = encodePayloads([
      { index: 300, hash: h("bb") },
      { index: 2, hash: `0x${h("aa")}` },
    ]);
    assert.equal(list.length, 2 * PAYLOAD_ENTRY_BYTES);
    assert.deepEqual([...list.subarray(0, 3)], [0, 2, 0xaa]);
    assert.deepEqual([...list.subarray(34, 36)], [1, 44]);
    assert.deepEqual(decodePayloads(list), [
      { index: 2, hash: h("aa") },
      { index: 300, hash: h("bb") },
    ]);
    assert.equal(
      payloadRoot([
        { index: 2, hash: h("aa") },
        { index: 300, hash: h("bb") },
      ]),
      keccak256(list),
    );
    assert.equal(payloadRoot([]), keccak256(new Uint8Array()));
    assert.equal(decodePayloads(new Uint8Array(33)), null);
    assert.throws(
      () =>
        encodePayloads([
          { index: 1, hash: h("aa") },
          { index: 1, hash: h("bb") },
        ]),
      /twice/,
    );
    assert.throws(() => encodePayloads([{ index: 70_000, hash: h("aa") }]), /peer index/);
    assert.throws(() => encodePayloads([{ index: 1, hash: "abcd" }]), /32 bytes/);
  });

  it("weighted median: by stake, the midpoint at exactly half", () => {
    assert.equal(weightedMedian([5, 1, 9], [1n, 1n, 1n]), 5);
    assert.equal(weightedMedian([1, 9], [1n, 1n]), 5); // exactly half: the midpoint, neither half decides
    assert.equal(weightedMedian([0, 60000], [2n, 2n]), 30000);
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
