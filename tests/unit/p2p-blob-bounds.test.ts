import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { BlobError, type P2PNode, type UpdateAnnouncement } from "../../node/p2p/index.ts";
import { Store } from "../../node/store/index.ts";
import {
  MemoryBlobStore,
  connectMesh,
  counterValue,
  openSlowBlobReads,
  serveLyingBlob,
  startAttacker,
  startHonest,
  waitUntil,
} from "../fixtures/hostile-peers.ts";

const RUN = "blob-bounds";
// a GC before each reading, so the test measures memory held, not garbage not yet collected
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const MiB = 1024 * 1024;
const sha = (b: Uint8Array) => new Uint8Array(createHash("sha256").update(b).digest());
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("p2p bounds: blob protocol", () => {
  const stop: Array<{ stop(): Promise<void> } | P2PNode> = [];
  const dirs: string[] = [];
  const stores: Store[] = [];
  after(async () => {
    for (const n of stop.reverse()) await n.stop();
    for (const s of stores) await s.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("slow readers on a large blob: outsiders are refused, a participant gets its per-peer streams, memory stays bounded, an honest fetch still succeeds", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cotrain-blob-bounds-"));
    dirs.push(dir);
    const store = await Store.open({ dataDir: dir });
    stores.push(store);
    // a checkpoint-sized blob in real LevelDB: the old server loaded it whole for every stream
    const blob = randomBytes(24 * MiB);
    const hash = await store.blobs.put(blob, { kind: "checkpoint", round: 1 });
    const registered = new Set<string>();
    const victim = await startHonest(RUN, registered, {
      blobStore: store.blobs.p2pView(() => ({ kind: "update", round: 1 })),
      blobMaxBytes: 64 * MiB,
    });
    const outsider = await startAttacker(RUN);
    const sybil = await startAttacker(RUN);
    registered.add(sybil.address);
    const honest = await startHonest(RUN, registered, { blobMaxBytes: 64 * MiB });
    stop.push(victim.node, outsider, sybil, honest.node);
    for (const a of [outsider.node, sybil.node, honest.node]) await a.dial(victim.node.multiaddrs[0]);

    gc();
    const before = process.memoryUsage().arrayBuffers;
    const h = Buffer.from(hash, "hex");
    const out = await openSlowBlobReads(outsider.node, victim.node.peerId, h, 16);
    const syb = await openSlowBlobReads(sybil.node, victim.node.peerId, h, 16);
    await new Promise((r) => setTimeout(r, 1000)); // the readers stall; the victim holds what it holds
    gc();
    const held = process.memoryUsage().arrayBuffers - before;
    // an honest participant is still served while 4 stalled streams hold slots
    const got = await honest.node.fetchBlob(hash, { providers: [victim.node.peerId], timeoutMs: 10_000 });
    out.close();
    syb.close();

    assert.deepEqual(out.statuses, { FORBIDDEN: 16 }, "outsiders are served nothing");
    assert.deepEqual(syb.statuses, { OK: 4, BUSY: 12 }, "4 streams per peer");
    assert.equal(hex(sha(got)), hash);
    // memory still held after a GC while the readers stall: one process holds all four nodes (the
    // attacker's paused stream windows, 4 × 4 MiB, included); the old server held the blob for each of
    // the 32 streams (24 MiB each)
    assert.ok(held < 40 * MiB, `${(held / MiB).toFixed(0)} MiB held while the readers stalled`);
    const refusals = (reason: string) =>
      counterValue(victim.registry, "cotrain_p2p_refusals_total", { resource: "blob_serve", reason });
    assert.equal(await refusals("not_registered"), 16);
    assert.equal(await refusals("peer_limit"), 12);
  });

  it("an announced payload above the model's bound is never fetched nor stored", async () => {
    const registered = new Set<string>();
    const attackerStore = new MemoryBlobStore();
    const attacker = await startAttacker(RUN, { blobStore: attackerStore });
    registered.add(attacker.address);
    const victimStore = new MemoryBlobStore();
    const victim = await startHonest(RUN, registered, { blobStore: victimStore, maxUpdateBytes: 64 * 1024 });
    stop.push(attacker, victim.node);
    const payload = randomBytes(4 * MiB);
    await attackerStore.put(hex(sha(payload)), payload);
    let delivered = 0;
    victim.node.onAnnouncement((ann, from) => {
      delivered++;
      void victim.node.fetchPayload(ann, from).catch(() => {});
    });
    await connectMesh(attacker.node, victim.node);
    const ann: Omit<UpdateAnnouncement, "runId" | "multiaddrs"> = {
      round: 1,
      baseModelHash: sha(Buffer.from("theta")),
      payloadHash: sha(payload),
      payloadBytes: payload.length,
      dataDigest: sha(Buffer.from("d")),
    };
    attackerStore.reads = 0;
    await attacker.node.publishUpdate(ann);
    assert.ok(await waitUntil(() => victim.node.getScore(attacker.node.peerId) < 0, 5000), "the announcer lost score");
    assert.equal(delivered, 0);
    // the same announcement handed to fetchPayload directly: refused before any request
    await assert.rejects(
      victim.node.fetchPayload({ ...ann, runId: RUN, multiaddrs: [] }, { peerId: attacker.node.peerId, address: "" }),
      (e: unknown) => e instanceof BlobError && e.code === "TOO_LARGE",
    );
    assert.equal(attackerStore.reads, 0, "the attacker was never asked for the payload");
    assert.equal(victimStore.map.size, 0, "nothing stored");
    assert.equal(
      await counterValue(victim.registry, "cotrain_p2p_gossip_validation_total", { reason: "PAYLOAD_TOO_LARGE" }),
      1,
    );
  });

  it("a provider declaring or sending more than the announced size is cut off before its body is buffered, and penalised", async () => {
    const registered = new Set<string>();
    const liar = await startAttacker(RUN);
    registered.add(liar.address);
    const victimStore = new MemoryBlobStore();
    const victim = await startHonest(RUN, registered, { blobStore: victimStore });
    stop.push(liar, victim.node);
    const lying = await serveLyingBlob(liar.node, 64 * MiB);
    await liar.node.dial(victim.node.multiaddrs[0]);
    const ann: UpdateAnnouncement = {
      runId: RUN,
      round: 1,
      baseModelHash: sha(Buffer.from("theta")),
      payloadHash: sha(Buffer.from("x")),
      payloadBytes: 10_000,
      dataDigest: sha(Buffer.from("d")),
      multiaddrs: [],
    };
    await assert.rejects(
      victim.node.fetchPayload(ann, { peerId: liar.node.peerId, address: liar.address }),
      (e: unknown) => e instanceof BlobError && e.code === "OVERSIZED",
    );
    assert.equal(victimStore.map.size, 0);
    // what the liar pushed before the reset: at most the stream window, not the 64 MiB it declared
    assert.ok(lying.sent <= 16 * MiB, `liar got ${lying.sent} B through`);
    assert.equal(
      await counterValue(victim.registry, "cotrain_p2p_refusals_total", {
        resource: "blob_fetch",
        reason: "oversized",
      }),
      1,
      "asked once, not every retry sweep",
    );
    assert.ok(await waitUntil(() => victim.node.getScore(liar.node.peerId) < 0, 3000), "the liar lost score");
  });
});
