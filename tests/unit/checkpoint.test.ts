import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  initParams,
  loadCheckpoint,
  maxCheckpointBytes,
  ModelError,
  modelPresets,
  paramSpecs,
  saveCheckpoint,
} from "../../node/model/index.ts";
import { modelHash } from "../../node/sparseloco/hash.ts";

const cfg = modelPresets.nano;

describe("safetensors checkpoints", () => {
  const params = initParams(cfg, "ckpt");
  // A few awkward values must survive bit-exactly.
  params.get("ln_f.bias")!.set([-0, Number.MIN_VALUE, 3.4028234663852886e38, 1 / 3]);
  const bytes = saveCheckpoint(cfg, params, 7);
  const specs = paramSpecs(cfg);

  it("round-trips bit-exactly with config, hash and round", () => {
    const ck = loadCheckpoint(bytes, modelHash(params, specs));
    assert.deepEqual(ck.config, cfg);
    assert.equal(ck.round, 7);
    assert.equal(ck.modelHash, modelHash(params, specs));
    for (const s of specs) {
      const a = params.get(s.name)!;
      const b = ck.params.get(s.name)!;
      assert.ok(
        Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)),
        s.name,
      );
    }
  });

  it("maxCheckpointBytes bounds every checkpoint of the config (the p2p layer refuses larger announcements)", () => {
    const bound = maxCheckpointBytes(cfg);
    assert.ok(bytes.length <= bound);
    assert.ok(saveCheckpoint(cfg, params, 0xffffffff).length === bound, "the longest round number is the bound");
    assert.ok(bound - bytes.length < 16, "and it is tight");
  });

  it("writes a standard safetensors header", () => {
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal((8 + n) % 8, 0);
    const h = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString());
    assert.equal(h["wte.weight"].dtype, "F32");
    assert.deepEqual(h["wte.weight"].shape, [256, 64]);
    assert.deepEqual(h["wte.weight"].data_offsets, [0, 256 * 64 * 4]);
    assert.equal(typeof h.__metadata__.config, "string");
    const last = specs[specs.length - 1];
    assert.equal(h[last.name].data_offsets[1], bytes.length - 8 - n);
  });

  it("rejects a corrupted tensor and a wrong expected hash", () => {
    const bad = bytes.slice();
    bad[bad.length - 5] ^= 1;
    assert.throws(
      () => loadCheckpoint(bad),
      (e: unknown) => e instanceof ModelError && e.code === "HASH_MISMATCH",
    );
    assert.throws(
      () => loadCheckpoint(bytes, "00".repeat(32)),
      (e: unknown) => e instanceof ModelError && e.code === "HASH_MISMATCH",
    );
    assert.throws(
      () => loadCheckpoint(bytes.subarray(0, 100)),
      (e: unknown) => e instanceof ModelError && e.code === "BAD_CHECKPOINT",
    );
  });
});
