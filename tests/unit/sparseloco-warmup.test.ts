import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../node/config/errors.ts";
import { canonicalJson, runConfigHash, runConfigSchema } from "../../node/config/run-config.ts";
import {
  MAX_CHUNK_VALUES,
  SparseLocoDecodeError,
  decodeUpdate,
  isDenseRound,
  largestCompression,
  maxUpdateBytes,
  roundCompression,
} from "../../node/sparseloco/index.ts";
import { OUTER, SPECS, randomParams, updateFrom } from "../fixtures/roles.ts";

/**
 * EF warm-up rounds (run config `sparseloco.denseRounds`, node/sparseloco/warmup.ts): a round's
 * compression settings follow from the round number alone, a warm-up payload decodes only in a warm-up
 * round, and a config without the field hashes as before.
 */
describe("sparseloco: EF warm-up rounds", () => {
  const run = { ...OUTER, denseRounds: 2 };

  it("keeps whole chunks in rounds 0 … denseRounds − 1 and the run's k after them", () => {
    assert.equal(roundCompression(run, 0).topk, MAX_CHUNK_VALUES);
    assert.equal(roundCompression(run, 1).topk, MAX_CHUNK_VALUES);
    assert.equal(roundCompression(run, 2).topk, OUTER.topk);
    assert.equal(roundCompression(OUTER, 0).topk, OUTER.topk, "no warm-up without denseRounds");
    assert.equal(roundCompression({ ...OUTER, denseRounds: 0 }, 0).topk, OUTER.topk);
    assert.equal(isDenseRound(undefined, 0), false);
    assert.equal(largestCompression(run).topk, MAX_CHUNK_VALUES);
    assert.equal(largestCompression(OUTER).topk, OUTER.topk);
    assert.equal(roundCompression(run, 0).beta, OUTER.beta, "only k changes");
  });

  it("a warm-up payload sends every coordinate and decodes only under its round's settings", () => {
    const theta = randomParams(1);
    const dense = updateFrom(theta, 3, undefined, roundCompression(run, 0));
    for (const s of SPECS) {
      const t = dense.tensors.get(s.name)!;
      assert.equal(
        t.codes.length,
        s.shape.reduce((a, b) => a * b, 1),
        `${s.name}: every coordinate sent`,
      );
    }
    const sparseBound = maxUpdateBytes(SPECS, roundCompression(run, 2));
    assert.ok(dense.payload.length > sparseBound, "a warm-up payload exceeds the sparse rounds' bound");
    assert.ok(dense.payload.length <= maxUpdateBytes(SPECS, largestCompression(run)), "within the run's bound");

    const decoded = decodeUpdate(dense.payload, SPECS, roundCompression(run, 1));
    assert.equal(decoded.get("w")!.k, MAX_CHUNK_VALUES);
    assert.throws(
      () => decodeUpdate(dense.payload, SPECS, roundCompression(run, 2)),
      (e: unknown) => e instanceof SparseLocoDecodeError && /bytes|exceeds|larger/i.test(e.message),
      "after the warm-up a dense payload is refused by size before parsing",
    );
    // A sparse payload is not a warm-up payload either: the layout's k is checked on decode.
    const sparse = updateFrom(theta, 4);
    assert.throws(() => decodeUpdate(sparse.payload, SPECS, roundCompression(run, 0)), SparseLocoDecodeError);
  });

  it("is in the config hash when set, and a config without it hashes exactly as before", () => {
    const plain = runConfigSchema.parse({ runId: "warmup" });
    assert.equal(plain.sparseloco.denseRounds, undefined);
    assert.ok(!canonicalJson(plain).includes("denseRounds"), "absent from the canonical JSON");
    const zero = runConfigSchema.parse({ runId: "warmup", sparseloco: { denseRounds: 0 } });
    const two = runConfigSchema.parse({ runId: "warmup", sparseloco: { denseRounds: 2 } });
    assert.notEqual(runConfigHash(two), runConfigHash(plain));
    assert.notEqual(runConfigHash(two), runConfigHash(zero));
    const bad = runConfigSchema.safeParse({ runId: "warmup", sparseloco: { denseRounds: -1 } });
    assert.equal(bad.success, false);
    const err = ConfigError.fromZod(bad.error!, "runConfig");
    assert.match(err.message, /runConfig\.sparseloco\.denseRounds/);
  });
});
