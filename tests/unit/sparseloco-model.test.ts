import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sha256 } from "../../node/hash/index.ts";
import { checkValidity, l2Norm, medianNormBound } from "../../node/scoring/index.ts";
import {
  type ParamMap,
  type SparseUpdate,
  SparseLocoError,
  aggregate,
  compressTensor,
  decompressTensor,
  encodeUpdate,
  lowerMedian,
  makeUpdate,
  modelHash,
  nextModel,
  outerStep,
  probeModel,
  updateNorm,
  zeroErrorFeedback,
} from "../../node/sparseloco/index.ts";
import { SHAPES, prng, randomTensor, specsOf } from "./sparseloco-helpers.ts";

/** SparseLoCo at model level (node/sparseloco/model-update.ts) against the per-tensor steps it wraps. */
describe("sparseloco: model-level update, probe and outer step", () => {
  const specs = specsOf(SHAPES);
  const opts = { topk: 64, beta: 0.95, targetChunk: 64 };
  const model = (seed: number, scale = 1): ParamMap => {
    const rnd = prng(seed);
    return new Map(
      specs.map((s) => [
        s.name,
        randomTensor(
          s.shape.reduce((a, b) => a * b, 1),
          rnd,
          scale,
        ),
      ]),
    );
  };
  const theta = model(1);
  const end = new Map([...theta].map(([k, v]) => [k, v.map((x, i) => x - 1e-3 * Math.sin(i + x * 1e3))]));
  const ef0 = model(2, 1e-4);

  it("makeUpdate = per-tensor Δ, EF and compress, byte for byte; the caller's EF is untouched", () => {
    const before = new Map([...ef0].map(([k, v]) => [k, v.slice()]));
    const { update, errorFeedback } = makeUpdate(theta, end, ef0, specs, opts);
    assert.deepEqual(ef0, before);
    const efRef = new Map([...ef0].map(([k, v]) => [k, v.slice()]));
    const ref = specs.map((s) => {
      const a = theta.get(s.name)!;
      const b = end.get(s.name)!;
      return compressTensor(
        a.map((x, i) => x - b[i]),
        efRef.get(s.name)!,
        s,
        opts,
      );
    });
    const payload = encodeUpdate(ref);
    assert.deepEqual(update.payload, payload);
    assert.equal(update.payloadHash, sha256(payload));
    assert.deepEqual(errorFeedback, efRef);
    assert.deepEqual(zeroErrorFeedback(specs, theta).get(specs[0].name), new Float32Array(256 * 192));
  });

  it("throws NON_FINITE_DELTA on a diverged θ_end and leaves the EF buffer as it was", () => {
    const bad = new Map(end);
    bad.set(specs[2].name, new Float32Array(100).fill(Number.NaN));
    const before = new Map([...ef0].map(([k, v]) => [k, v.slice()]));
    assert.throws(
      () => makeUpdate(theta, bad, ef0, specs, opts),
      (e: unknown) => e instanceof SparseLocoError && e.code === "NON_FINITE_DELTA",
    );
    assert.deepEqual(ef0, before);
  });

  it("updateNorm from the sparse form equals the dense L2 norm; probe equals θ − s·decompress", () => {
    const { update } = makeUpdate(theta, end, ef0, specs, opts);
    const dense = specs.map((s) => decompressTensor(update.tensors.get(s.name)!, s));
    const n = updateNorm(update.tensors);
    assert.ok(Math.abs(n - l2Norm(dense)) <= 1e-12 * n, `${n} vs ${l2Norm(dense)}`);
    assert.equal(checkValidity({ norm: n }).norm, n);
    assert.equal(checkValidity({ norm: Number.NaN }).reason, "non_finite");
    const s = 0.37;
    const probe = probeModel(theta, update.tensors, s, specs);
    specs.forEach((spec, j) => {
      const th = theta.get(spec.name)!;
      const want = th.map((x, i) => x - s * dense[j][i]);
      assert.deepEqual(probe.get(spec.name), want, spec.name);
    });
    assert.deepEqual(theta, model(1), "θ is not modified");
  });

  it("nextModel = clone, aggregate, outerStep, hash (bit-identical to the per-tensor path)", () => {
    const byPeer = new Map<string, SparseUpdate>();
    for (const [i, addr] of ["0xb", "0xa", "0xc"].entries()) {
      const e = model(10 + i);
      byPeer.set(addr, makeUpdate(theta, e, zeroErrorFeedback(specs, theta), specs, opts).update.tensors);
    }
    const next = nextModel(theta, byPeer, specs, { ...opts, alpha: 0.8 });
    const ref = new Map([...theta].map(([k, v]) => [k, v.slice()]));
    outerStep(ref, aggregate(byPeer, specs, opts), 0.8);
    assert.equal(next.hash, modelHash(ref, specs));
    assert.equal(nextModel(theta, new Map(), specs, { ...opts, alpha: 1 }).hash, modelHash(theta, specs));
  });

  it("one lower median: the outer step's clip, the probe clip and the validity bound agree", () => {
    assert.equal(lowerMedian([3, 1, 2]), 2);
    assert.equal(lowerMedian([4, 1, 3, 2]), 2);
    assert.ok(Number.isNaN(lowerMedian([])));
    assert.equal(medianNormBound([4, 1, 3, 2], 10).maxNorm, 20);
  });
});
