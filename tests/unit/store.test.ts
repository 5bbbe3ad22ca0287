import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { ParamMap } from "../../node/sparseloco/types.ts";
import { sha256 } from "../../node/hash/index.ts";
import { BLOB_CHUNK_BYTES, Bucket, Store, StoreError } from "../../node/store/index.ts";

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "cotrain-store-"));
  dirs.push(d);
  return d;
}
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

describe("store: peer state", () => {
  it("round-trips float32 tensors bit-exactly (NaN payloads, -0, subnormals, unaligned views)", async () => {
    const store = await Store.open({ dataDir: await tempDir() });
    try {
      const special = new Float32Array(1 + 4096);
      const bits = new Uint32Array(special.buffer);
      bits[0] = 0x7fc01234; // NaN with payload
      bits[1] = 0x80000000; // -0
      bits[2] = 0x00000001; // smallest subnormal
      bits[3] = 0xff800000; // -Inf
      for (let i = 4; i < special.length; i++) special[i] = Math.fround(Math.sin(i) * 1e-3);
      const unaligned = new Float32Array(new ArrayBuffer(4 * 11), 4, 7).fill(Math.PI);
      const params: ParamMap = new Map([
        ["h.0.attn.c_attn.weight", special.subarray(1)],
        ["wte", unaligned],
      ]);
      const ef: ParamMap = new Map([["wte", new Float32Array([1.5, -2.25, 3e-38])]]);
      const opt: ParamMap = new Map([["m/wte", new Float32Array([0.1, 0.2])]]);
      await store.peerState.commitRound({
        round: 7,
        modelHash: "ab".repeat(32),
        params,
        errorFeedback: ef,
        optimizer: opt,
      });
      special[5] = 123; // later mutation of the caller's array must not leak into the store

      const loaded = await store.peerState.load();
      assert.ok(loaded);
      assert.equal(loaded.round, 7);
      assert.equal(loaded.modelHash, "ab".repeat(32));
      assert.deepEqual([...loaded.params.keys()], ["h.0.attn.c_attn.weight", "wte"]);
      const expected = new Float32Array(special.subarray(1));
      expected[4] = Math.fround(Math.sin(5) * 1e-3);
      assert.ok(bitsEqual(loaded.params.get("h.0.attn.c_attn.weight")!, expected));
      assert.equal(new Uint32Array(loaded.params.get("h.0.attn.c_attn.weight")!.buffer)[0], 0x80000000);
      assert.ok(bitsEqual(loaded.params.get("wte")!, unaligned));
      assert.ok(bitsEqual(loaded.errorFeedback.get("wte")!, ef.get("wte")!));
      assert.ok(bitsEqual(loaded.optimizer!.get("m/wte")!, opt.get("m/wte")!));
    } finally {
      await store.close();
    }
  });

  it("a commit replaces the previous tensor set and its round record lands with it", async () => {
    const store = await Store.open({ dataDir: await tempDir() });
    try {
      await store.peerState.commitRound({
        round: 1,
        modelHash: "h1",
        params: new Map([
          ["a", new Float32Array([1])],
          ["gone", new Float32Array([9])],
        ]),
        errorFeedback: new Map([["a", new Float32Array([0])]]),
        optimizer: new Map([["m/a", new Float32Array([1])]]),
      });
      await store.peerState.commitRound({
        round: 2,
        modelHash: "h2",
        params: new Map([["a", new Float32Array([2])]]),
        errorFeedback: new Map([["a", new Float32Array([-2])]]),
        record: {
          round: 1,
          baseModelHash: "h1",
          newModelHash: "h2",
          gathered: [{ address: "0xabc", payloadHash: "00".repeat(32) }],
          timings: { train: 1.5 },
          losses: { heldOut: 3.2 },
          status: "aggregated",
        },
      });
      const s = await store.peerState.load();
      assert.ok(s);
      assert.deepEqual([...s.params.keys()], ["a"]);
      assert.equal(s.params.get("a")![0], 2);
      assert.equal(s.optimizer, undefined);
      assert.equal((await store.rounds.get(1))?.newModelHash, "h2");
      assert.equal((await store.rounds.latest())?.round, 1);
      // the stale tensors were deleted in the same batch
      let leftovers = 0;
      for await (const _ of store.db.keys({ gte: Uint8Array.of(0x10), lt: Uint8Array.of(0x13) })) leftovers++;
      assert.equal(leftovers, 2);
    } finally {
      await store.close();
    }
  });

  it("survives SIGKILL at arbitrary instants: marker, params, EF and round record always agree", async (t) => {
    const dataDir = await tempDir();
    const fixture = fileURLToPath(new URL("../fixtures/store-crash-child.ts", import.meta.url));
    let lastAcked = 0;
    let kills = 0;
    let unackedLanded = 0;
    for (let attempt = 0; attempt < 4; attempt++) {
      const child = spawn(process.execPath, ["--import", "tsx", fixture, dataDir, "8", String(128 * 1024)], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      try {
        const acked = await runUntilKilled(child, 3 + attempt * 2, dataDir);
        lastAcked = Math.max(lastAcked, acked);
        kills++;
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      }
      const store = await Store.open({ dataDir });
      try {
        const s = await store.peerState.load();
        assert.ok(s, "a marker exists after the first acknowledged commit");
        // an acknowledged commit is never lost; an unacknowledged one may or may not have landed
        assert.ok(s.round >= lastAcked && s.round <= lastAcked + 1, `round ${s.round} vs acked ${lastAcked}`);
        assert.equal(s.modelHash, `hash-${s.round}`);
        assert.equal(s.params.size, 8);
        for (const [name, p] of s.params) {
          assert.ok(
            p.every((v) => v === s.round),
            `param ${name} does not match marker round ${s.round}`,
          );
          assert.ok(
            s.errorFeedback.get(name)!.every((v) => v === -s.round),
            `EF ${name} does not match marker round ${s.round}`,
          );
        }
        const rec = await store.rounds.get(s.round - 1);
        assert.equal(rec?.newModelHash, `hash-${s.round}`);
        assert.equal(await store.rounds.get(s.round), undefined);
        if (s.round === lastAcked + 1) unackedLanded++;
        lastAcked = s.round;
      } finally {
        await store.close();
      }
    }
    assert.equal(kills, 4);
    t.diagnostic(`kills: ${kills}, commits that landed but were killed before acknowledging: ${unackedLanded}`);
  });
});

/**
 * Waits for `commits` acknowledged commits, checks the live child's lock is reported as DB_LOCKED,
 * then SIGKILLs it after a random delay (so the kill lands anywhere in a commit). Returns the last acked round.
 */
async function runUntilKilled(child: ChildProcess, commits: number, dataDir: string): Promise<number> {
  let acked = 0;
  let seen = 0;
  let buf = "";
  // "close" (not "exit"): stdio is drained, so every "committed" line the child wrote is counted
  const done = new Promise<void>((resolve, reject) => {
    child.on("close", () => resolve());
    child.on("error", reject);
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^committed (\d+)$/.exec(line);
        if (m) {
          acked = Number(m[1]);
          if (++seen === commits) resolve();
        }
        nl = buf.indexOf("\n");
      }
    });
    child.on("exit", (code) => reject(new Error(`child exited early (${code})`)));
  });
  await assert.rejects(
    Store.open({ dataDir }),
    (err: unknown) => err instanceof StoreError && err.code === "DB_LOCKED" && /already in use/.test(err.message),
  );
  await new Promise((r) => setTimeout(r, Math.random() * 40));
  child.kill("SIGKILL");
  await done;
  return acked;
}

describe("store: blobs", () => {
  it("stores content-addressed blobs, verifies expected hashes, indexes by round", async () => {
    const store = await Store.open({ dataDir: await tempDir() });
    try {
      const bytes = new TextEncoder().encode("update payload");
      const hash = await store.blobs.put(bytes, { kind: "update", round: 3, peer: "0xAA" });
      assert.equal(hash, sha256(bytes));
      assert.ok(await store.blobs.has(hash));
      assert.deepEqual(await store.blobs.get(hash), bytes);
      assert.equal(await store.blobs.has("00".repeat(32)), false);
      await assert.rejects(
        store.blobs.put(bytes, { kind: "update", round: 3 }, "11".repeat(32)),
        (e: unknown) => e instanceof StoreError && e.code === "BLOB_HASH_MISMATCH",
      );
      const h2 = await store.blobs.put(
        new Uint8Array([1, 2, 3]),
        { kind: "update", round: 3 },
        sha256(new Uint8Array([1, 2, 3])),
      );
      await store.blobs.put(new Uint8Array([4]), { kind: "update", round: 4 });
      const r3 = await store.blobs.listRound(3, "update");
      assert.deepEqual(r3.map((m) => m.hash).sort(), [hash, h2].sort());
      assert.equal(r3.find((m) => m.hash === hash)?.peer, "0xAA");

      // the view the p2p blob protocol uses: verified, tagged puts
      const view = store.blobs.p2pView(() => ({ kind: "update", round: 9, peer: "0xBB" }));
      const fetched = new Uint8Array([9, 9, 9]);
      await view.put(sha256(fetched), fetched);
      assert.deepEqual(await view.get(sha256(fetched)), fetched);
      assert.equal((await store.blobs.listRound(9))[0].peer, "0xBB");
      await assert.rejects(
        view.put("22".repeat(32), fetched),
        (e: unknown) => e instanceof StoreError && e.code === "BLOB_HASH_MISMATCH",
      );
    } finally {
      await store.close();
    }
  });

  it("stores large blobs in chunks, reads them one chunk at a time, still reads whole legacy blobs, prunes every chunk", async () => {
    const store = await Store.open({ dataDir: await tempDir(), blobRetentionRounds: 1 });
    try {
      const big = randomBytes(2 * BLOB_CHUNK_BYTES + 1234);
      const hash = await store.blobs.put(big, { kind: "update", round: 1 });
      assert.deepEqual(Buffer.from((await store.blobs.get(hash))!), big);
      const reader = (await store.blobs.open(hash))!;
      assert.equal(reader.size, big.length);
      const chunks: Uint8Array[] = [];
      for await (const c of reader.chunks()) chunks.push(c);
      assert.deepEqual(
        chunks.map((c) => c.length),
        [BLOB_CHUNK_BYTES, BLOB_CHUNK_BYTES, 1234],
      );
      assert.deepEqual(Buffer.concat(chunks), big);
      const empty = await store.blobs.put(new Uint8Array(0), { kind: "update", round: 1 });
      assert.equal((await store.blobs.get(empty))?.length, 0);

      // a blob written whole by an older version (Bucket.blobData, meta without chunkBytes)
      const legacy = randomBytes(5000);
      const lh = Buffer.from(sha256(legacy), "hex");
      const meta = { kind: "update", round: 1, hash: sha256(legacy), bytes: legacy.length };
      await store.db.batch([
        { type: "put", key: Uint8Array.of(Bucket.blobData, ...lh), value: legacy },
        { type: "put", key: Uint8Array.of(Bucket.blobMeta, ...lh), value: Buffer.from(JSON.stringify(meta)) },
        { type: "put", key: Uint8Array.of(Bucket.blobRoundIndex, 0, 0, 0, 1, ...lh), value: new Uint8Array(0) },
      ]);
      assert.deepEqual(Buffer.from((await store.blobs.get(sha256(legacy)))!), legacy);
      const lr = (await store.blobs.open(sha256(legacy)))!;
      assert.equal(lr.size, legacy.length);

      // pruning removes the meta, the index and every chunk (no orphaned chunk keys)
      assert.equal(await store.pruneBlobs(10), 3);
      assert.equal(await store.blobs.get(hash), undefined);
      assert.equal(await store.blobs.open(hash), undefined);
      let left = 0;
      for await (const _ of store.db.keys({
        gte: Uint8Array.of(Bucket.blobData),
        lt: Uint8Array.of(Bucket.blobChunks + 1),
      }))
        left++;
      assert.equal(left, 0, "no blob data, meta, index or chunk keys left");
    } finally {
      await store.close();
    }
  });

  it("prunes blobs outside the retention window but keeps the newest checkpoint, its refs and the updates after it", async () => {
    const store = await Store.open({ dataDir: await tempDir(), blobRetentionRounds: 3 });
    try {
      const enc = (s: string) => new TextEncoder().encode(s);
      const updates = new Map<number, string>();
      for (let r = 0; r < 12; r++) updates.set(r, await store.blobs.put(enc(`u${r}`), { kind: "update", round: r }));
      const shard = await store.blobs.put(enc("shard"), { kind: "checkpoint", round: 2 });
      const oldCk = await store.blobs.put(enc("ck2"), { kind: "checkpoint", round: 2 });
      const ck = await store.blobs.put(enc("ck5"), { kind: "checkpoint", round: 5, refs: [shard] });

      // current 12, keep 3 -> cutoff 9; newest checkpoint at 5 -> updates from round 5 kept for replay
      const deleted = await store.pruneBlobs(12);
      assert.equal(deleted, 5 + 1); // updates 0..4 and the old checkpoint
      for (let r = 0; r < 12; r++) assert.equal(await store.blobs.has(updates.get(r)!), r >= 5, `update ${r}`);
      assert.ok(await store.blobs.has(ck));
      assert.ok(await store.blobs.has(shard), "a shard referenced by the newest checkpoint is kept");
      assert.equal(await store.blobs.has(oldCk), false);
      assert.equal(await store.blobs.get(oldCk), undefined);
      assert.deepEqual(await store.blobs.listRound(2), [(await store.blobs.meta(shard))!]);

      // a newer checkpoint releases the older one and the updates before it
      const ck11 = await store.blobs.put(enc("ck11"), { kind: "checkpoint", round: 11 });
      await store.pruneBlobs(20);
      assert.equal(await store.blobs.has(ck), false);
      assert.equal(await store.blobs.has(shard), false);
      assert.ok(await store.blobs.has(ck11));
      assert.equal(await store.blobs.has(updates.get(10)!), false);
      assert.ok(await store.blobs.has(updates.get(11)!));
    } finally {
      await store.close();
    }
  });
});

describe("store: validator state and cursors", () => {
  it("keeps ratings, score history, submissions and the chain cursor across reopen", async () => {
    const dataDir = await tempDir();
    let store = await Store.open({ dataDir });
    assert.equal(await store.chainCursor.load(), undefined);
    await store.chainCursor.save(123_456);
    await store.cursor("other").save(2 ** 40);
    await store.ratings.commitRound(4, new Map([["0xAbC", { mu: 26, sigma: 7.5, lastRound: 4 }]]), [
      { address: "0xAbC", final: 0.5, valid: true },
    ]);
    assert.equal(await store.submissions.has(4), false);
    await store.submissions.record({ round: 4, txHash: "0x01", status: "pending" });
    await store.close();

    store = await Store.open({ dataDir });
    try {
      assert.equal(await store.chainCursor.load(), 123_456);
      assert.equal(await store.cursor("other").load(), 2 ** 40);
      assert.deepEqual(await store.ratings.get("0xabc"), { mu: 26, sigma: 7.5, lastRound: 4 });
      assert.deepEqual([...(await store.ratings.all()).keys()], ["0xabc"]);
      assert.deepEqual(await store.ratings.history(4), [{ address: "0xabc", final: 0.5, valid: true }]);
      assert.deepEqual(await store.ratings.history(5), []);
      assert.ok(await store.submissions.has(4));
      assert.equal((await store.submissions.get(4))?.txHash, "0x01");
    } finally {
      await store.close();
    }
  });

  it("reports a database held by this process as DB_LOCKED too", async () => {
    const dataDir = await tempDir();
    const a = await Store.open({ dataDir });
    try {
      await assert.rejects(Store.open({ dataDir }), (e: unknown) => e instanceof StoreError && e.code === "DB_LOCKED");
    } finally {
      await a.close();
    }
    const b = await Store.open({ dataDir });
    await b.close();
  });
});
