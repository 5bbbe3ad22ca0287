import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeComponents, decodeRoundComponents, encodeComponents } from "../../node/chain/encoding.ts";
import { combineScore } from "../../node/scoring/combine.ts";
import {
  CHAIN_COMPONENT_COUNT,
  COMPONENT_UNSET,
  REASONS,
  chainComponentsFromScore,
  chainReasonOf,
  decodeChainComponents,
  decodeStageHeldOut,
  encodeChainComponents,
  encodeStageHeldOut,
} from "../../node/scoring/chain-components.ts";

describe("chain score components", () => {
  it("round-trips natural units through the contract's int16 encoding", () => {
    const values = encodeChainComponents({
      heldOutLossBefore: 5.4321,
      heldOutLossAfter: 5.1234,
      heldOutGain: 0.0568,
      ownGain: -0.0123,
      valid: true,
      inSync: true,
      proofPositive: true,
      reason: "ok",
    });
    assert.equal(values.length, CHAIN_COMPONENT_COUNT);
    assert.deepEqual(values, [5432, 5123, 568, -123, 0b1011]);
    const [back] = decodeComponents(encodeComponents([values]));
    const c = decodeChainComponents(back);
    assert.equal(c.heldOutLossBefore, 5.432);
    assert.equal(c.heldOutLossAfter, 5.123);
    assert.equal(c.heldOutGain, 0.0568);
    assert.equal(c.ownGain, -0.0123);
    assert.deepEqual(
      [c.valid, c.inSync, c.copy, c.proofPositive, c.missing, c.reason],
      [true, true, false, true, false, "ok"],
    );
  });

  it("held-out loss per stage: × 1000 once per submission; unmeasured, NaN and negative values decode as null", () => {
    const raw = encodeStageHeldOut([5.4321, null, Number.NaN, 40]);
    assert.deepEqual(raw, [5432, COMPONENT_UNSET, COMPONENT_UNSET, 32767]);
    const bytes = encodeComponents([encodeChainComponents({ heldOutLossBefore: 5.4321 })], raw);
    assert.deepEqual(decodeStageHeldOut(decodeRoundComponents(bytes)), [5.432, null, null, 32.767]);
    // a hostile validator's negative loss is not a measurement
    assert.deepEqual(decodeStageHeldOut([-5, 0, 1]), [null, 0, 0.001]);
  });

  it("keeps every reason code and flag bit distinct, including codes >= 128 (sign bit of int16)", () => {
    for (const [code, name] of Object.entries(REASONS)) {
      const v = encodeChainComponents({ reason: name, copy: true, missing: true });
      const c = decodeChainComponents(decodeComponents(encodeComponents([v]))[0]);
      assert.equal(c.reason, name, `code ${code}`);
      assert.deepEqual([c.valid, c.inSync, c.copy, c.proofPositive, c.missing], [false, false, true, false, true]);
    }
    const high = encodeChainComponents({ reason: 200, valid: true });
    assert.ok(high[4] < 0, "reason 200 sets the int16 sign bit");
    const c = decodeChainComponents(decodeComponents(encodeComponents([high]))[0]);
    assert.equal(c.reason, "unknown:200");
    assert.equal(c.valid, true);
  });

  it("clamps out-of-range values and marks unmeasured ones", () => {
    const v = encodeChainComponents({
      heldOutLossBefore: 40, // 40000 milli > int16
      heldOutLossAfter: Number.NaN,
      heldOutGain: Number.NEGATIVE_INFINITY,
      ownGain: 1e9,
    });
    assert.deepEqual(v.slice(0, 4), [32767, COMPONENT_UNSET, -32767, 32767]);
    const c = decodeChainComponents(v);
    assert.equal(c.heldOutLossBefore, 32.767);
    assert.equal(c.heldOutLossAfter, null);
    assert.equal(c.heldOutGain, -3.2767);
    assert.equal(c.reason, "ok");
  });

  it("rejects unknown reason names and out-of-range codes", () => {
    assert.throws(() => encodeChainComponents({ reason: "nope" as never }), RangeError);
    assert.throws(() => encodeChainComponents({ reason: 256 }), RangeError);
  });

  it("decodes short (older K) and long (newer K) rows", () => {
    const short = decodeChainComponents([4000, 3900]);
    assert.equal(short.heldOutLossBefore, 4);
    assert.equal(short.heldOutGain, null);
    assert.equal(short.reason, "ok");
    const long = decodeChainComponents([...encodeChainComponents({ reason: "copy", copy: true }), 7, 8]);
    assert.equal(long.reason, "copy");
  });

  it("maps the scorer's verdicts", () => {
    assert.equal(chainReasonOf("out_of_sync"), "wrong_base_hash");
    assert.equal(chainReasonOf("invalid:norm_too_small"), "norm_out_of_bounds");
    assert.equal(chainReasonOf("invalid:decode_failed"), "decode_error");
    const missing = combineScore({
      present: false,
      valid: false,
      sync: 0,
      copyOf: null,
      heldOutGain: 0,
      ownGain: 0,
      proof: -1,
    });
    const m = decodeChainComponents(chainComponentsFromScore(missing, { before: 5, after: null }));
    assert.deepEqual(
      [m.missing, m.valid, m.reason, m.heldOutGain, m.heldOutLossBefore],
      [true, false, "missing", null, 5],
    );
    const good = combineScore({
      present: true,
      valid: true,
      sync: 1,
      copyOf: null,
      heldOutGain: 0.02,
      ownGain: 0.03,
      proof: 1,
    });
    const g = decodeChainComponents(chainComponentsFromScore(good, { before: 5, after: 4.9 }));
    assert.deepEqual([g.valid, g.inSync, g.proofPositive, g.reason, g.heldOutGain], [true, true, true, "ok", 0.02]);
  });
});
