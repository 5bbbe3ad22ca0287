import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import type { P2PNode, StatusHeartbeat } from "../../node/p2p/index.ts";
import {
  type Attacker,
  type HonestNode,
  connectMesh,
  counterValue,
  startAttacker,
  startHonest,
  waitUntil,
} from "../fixtures/hostile-peers.ts";

const RUN = "gossip-bounds";
const sha = (b: Uint8Array) => new Uint8Array(createHash("sha256").update(b).digest());
const beat = (version = "0.1.0"): Omit<StatusHeartbeat, "runId"> => ({
  role: "peer",
  round: 1,
  modelHash: new Uint8Array(0),
  backend: "cpu",
  tokensPerS: 1,
  timestamp: Date.now(),
  version,
});

describe("p2p bounds: gossip", () => {
  const stop: Array<{ stop(): Promise<void> } | P2PNode> = [];
  after(async () => {
    for (const n of stop.reverse()) await n.stop();
  });

  /** F — A — B, all registered: F floods the status topic; A must stop it, B must not see it. */
  async function line(): Promise<{ F: Attacker; A: HonestNode; B: HonestNode; atA: () => number; atB: () => number }> {
    const registered = new Set<string>();
    const F = await startAttacker(RUN);
    registered.add(F.address);
    const A = await startHonest(RUN, registered);
    const B = await startHonest(RUN, registered);
    stop.push(F, A.node, B.node);
    let a = 0;
    let b = 0;
    A.node.onStatus(() => a++);
    B.node.onStatus(() => b++);
    await connectMesh(A.node, B.node, "status");
    await connectMesh(F.node, A.node, "status");
    return { F, A, B, atA: () => a, atB: () => b };
  }

  it("oversized heartbeats are rejected at the first hop, never relayed, and graylist the flooder", async () => {
    const { F, A, atA, atB } = await line();
    // 200 KB each: under the generic gossip limit (272 KiB) that used to apply to every topic
    for (let i = 0; i < 50; i++) await F.node.publishStatus(beat("x".repeat(200_000))).catch(() => {});
    assert.ok(
      await waitUntil(() => A.node.getScore(F.node.peerId) < -80, 5000),
      "flooder below the graylist threshold",
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(atA(), 0);
    assert.equal(atB(), 0, "nothing relayed to the second hop");
    assert.ok((await counterValue(A.registry, "cotrain_p2p_gossip_validation_total", { reason: "TOO_LARGE" })) >= 1);
  });

  it("a heartbeat flood: at most the per-author rate is delivered and relayed; the flooder's score falls", async () => {
    const { F, A, atA, atB } = await line();
    for (let i = 0; i < 100; i++) await F.node.publishStatus(beat()).catch(() => {});
    assert.ok(
      await waitUntil(() => A.node.getScore(F.node.peerId) < -80, 5000),
      "flooder below the graylist threshold",
    );
    await new Promise((r) => setTimeout(r, 300));
    const points = 4; // defaultP2POptions.statusRateLimit: 4 per 10 s
    assert.ok(atA() >= 1 && atA() <= points, `A delivered ${atA()}`);
    assert.ok(atB() <= points, `B got ${atB()}`);
    assert.ok((await counterValue(A.registry, "cotrain_p2p_gossip_validation_total", { reason: "RATE_LIMITED" })) >= 1);
  });

  it("a burst of 500 announcements from an unregistered key costs one registry lookup and delivers nothing", async () => {
    const registered = new Set<string>();
    // an unknown address costs an eth_call (20 ms): the burst arrives before the first lookup returns
    // a TTL longer than the test, so the count does not depend on how fast this box validates the burst
    // (with the default 2 s it is one lookup per 2 s; p2p-limits tests the expiry)
    const victim = await startHonest(RUN, registered, { unknownLookupMs: 20, registryNegativeTtlMs: 60_000 });
    const rogue = await startAttacker(RUN);
    stop.push(victim.node, rogue);
    let delivered = 0;
    victim.node.onAnnouncement(() => delivered++);
    await connectMesh(rogue.node, victim.node);
    const before = victim.lookups.n;
    // one burst: the publisher never yields, so the victim takes all 500 in at once and validates them
    // concurrently, before the first registry answer (the old code made one lookup per message)
    for (let i = 0; i < 500; i++) {
      const p = randomBytes(32);
      await rogue.node.publishUpdate({
        round: 1,
        baseModelHash: sha(p),
        payloadHash: sha(p),
        payloadBytes: p.length,
        dataDigest: sha(p),
        inlinePayload: new Uint8Array(p),
      });
    }
    const validated = () => counterValue(victim.registry, "cotrain_p2p_gossip_validation_total");
    assert.ok(await waitUntil(async () => (await validated()) >= 250, 10_000), "the burst reached validation");
    assert.equal(delivered, 0);
    assert.equal(victim.lookups.n - before, 1, `one registry lookup for ${await validated()} messages`);
    const cached =
      (await counterValue(victim.registry, "cotrain_p2p_registry_lookups_total", { result: "negative_hit" })) +
      (await counterValue(victim.registry, "cotrain_p2p_registry_lookups_total", { result: "shared" }));
    assert.ok(cached >= 249, `${cached} answered from the cache or a shared lookup`);
  });
});
