import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import type { P2PNode } from "../../node/p2p/index.ts";
import {
  type Attacker,
  type HonestNode,
  counterValue,
  serveHugeSync,
  silenceSync,
  startAttacker,
  startHonest,
  waitUntil,
} from "../fixtures/hostile-peers.ts";

const RUN = "sync-bounds";
const sha = (b: Uint8Array) => new Uint8Array(createHash("sha256").update(b).digest());

/** An honest peer that published round 1's update before the victim was connected (only sync can bring it). */
async function honestWithAnnouncement(registered: Set<string>): Promise<HonestNode> {
  const h = await startHonest(RUN, registered);
  const payload = randomBytes(100);
  await h.node.publishUpdate({
    round: 1,
    baseModelHash: sha(Buffer.from("theta")),
    payloadHash: sha(payload),
    payloadBytes: payload.length,
    dataDigest: sha(Buffer.from("d")),
    inlinePayload: new Uint8Array(payload),
  });
  await new Promise((r) => setTimeout(r, 200)); // our own publish enters the catch-up log asynchronously
  return h;
}

describe("p2p bounds: announcement sync", () => {
  const stop: Array<{ stop(): Promise<void> } | P2PNode> = [];
  after(async () => {
    for (const n of stop.reverse()) await n.stop();
  });

  it("3 silent outsiders are never asked; 3 silent registered sybils hold a sync only until its one deadline; the honest announcement arrives", async () => {
    const registered = new Set<string>();
    const honest = await honestWithAnnouncement(registered);
    // the old per-peer timeout stays 20 s: sequential queries would stall 6 × 20 s here
    const victim = await startHonest(RUN, registered, { syncTimeoutMs: 1500 });
    const outsiders: Attacker[] = [];
    const sybils: Attacker[] = [];
    for (let i = 0; i < 3; i++) outsiders.push(await startAttacker(RUN));
    for (let i = 0; i < 3; i++) sybils.push(await startAttacker(RUN));
    for (const s of sybils) registered.add(s.address);
    stop.push(honest.node, victim.node, ...outsiders, ...sybils);
    for (const a of [...outsiders, ...sybils]) {
      await silenceSync(a.node);
      await a.node.dial(victim.node.multiaddrs[0]);
      // libp2p refuses a host's 6th inbound connection within a second (inboundConnectionThreshold 5),
      // and every attacker here dials from 127.0.0.1
      await new Promise((r) => setTimeout(r, 250));
    }

    // outsiders only: answered at once, nobody asked
    let t = performance.now();
    assert.equal(
      await victim.node.syncAnnouncements(
        1,
        1,
        outsiders.map((o) => o.node.peerId),
      ),
      0,
    );
    const outsidersS = (performance.now() - t) / 1000;
    assert.ok(outsidersS < 1, `outsiders stalled sync ${outsidersS.toFixed(2)} s`);

    // everyone, the honest peer among 3 silent sybils and 3 silent outsiders
    await victim.node.dial(honest.node.multiaddrs[0]);
    t = performance.now();
    const delivered = await victim.node.syncAnnouncements(1, 1);
    const allS = (performance.now() - t) / 1000;
    assert.equal(delivered, 1, "the honest peer's announcement arrived through sync");
    assert.ok(allS < 1.5 + 1.5, `sync took ${allS.toFixed(2)} s, deadline 1.5 s`);
    assert.ok(allS >= 1.4, "the silent sybils were asked in parallel and waited for until the deadline");
    assert.equal(await counterValue(victim.registry, "cotrain_p2p_sync_requests_total", { result: "timeout" }), 3);
  });

  it("a response past the caps is cut as it arrives and its server penalised; the honest one still delivers", async () => {
    const registered = new Set<string>();
    const honest = await honestWithAnnouncement(registered);
    const victim = await startHonest(RUN, registered, { syncMaxBytes: 2 * 1024 * 1024 });
    const responder = await startAttacker(RUN);
    registered.add(responder.address);
    stop.push(honest.node, victim.node, responder);
    // 4096 validly signed 272 KiB envelopes: 1088 MiB offered
    const offered = await serveHugeSync(responder.node, 4096, 272 * 1024, {
      signer: responder.identity,
      topic: `/cotrain/${RUN}/updates/1`,
    });
    await responder.node.dial(victim.node.multiaddrs[0]);
    await victim.node.dial(honest.node.multiaddrs[0]);
    const t = performance.now();
    const delivered = await victim.node.syncAnnouncements(1, 1, [responder.node.peerId, honest.node.peerId]);
    const seconds = (performance.now() - t) / 1000;
    assert.equal(delivered, 1);
    // the cap plus what was in flight (yamux windows) when the stream was cut, not the 1088 MiB offered
    assert.ok(offered.sent < 24 * 1024 * 1024, `responder got ${offered.sent} B through`);
    assert.ok(seconds < 5, `sync took ${seconds.toFixed(2)} s`);
    assert.equal(
      await counterValue(victim.registry, "cotrain_p2p_refusals_total", {
        resource: "sync_response",
        reason: "too_large",
      }),
      1,
    );
    // gossipsub caches scores for a moment
    assert.ok(
      await waitUntil(() => victim.node.getScore(responder.node.peerId) < 0, 3000),
      "the oversized responder lost score",
    );
    assert.ok(victim.node.getScore(honest.node.peerId) >= 0);
  });

  it("a sync server answers registered participants only, one stream per peer at a time", async () => {
    const registered = new Set<string>();
    const honest = await honestWithAnnouncement(registered);
    // believes the honest peer is registered; the honest peer's registry does not know it
    const outsider = await startHonest(RUN, new Set(registered), { syncTimeoutMs: 1000 });
    stop.push(honest.node, outsider.node);
    await outsider.node.dial(honest.node.multiaddrs[0]);
    assert.equal(await outsider.node.syncAnnouncements(1, 1, [honest.node.peerId]), 0);
    assert.equal(
      await counterValue(honest.registry, "cotrain_p2p_refusals_total", {
        resource: "sync_serve",
        reason: "not_registered",
      }),
      1,
    );
  });
});
