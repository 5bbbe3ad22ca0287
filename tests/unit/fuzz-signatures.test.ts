import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { RPC } from "@libp2p/gossipsub/message";
import * as lp from "it-length-prefixed";
import { Registry } from "prom-client";
import { sha256Bytes } from "../../node/hash/index.ts";
import { type Identity, randomIdentity } from "../../node/identity/index.ts";
import { P2PNode, UpdateAnnouncement, topicName } from "../../node/p2p/index.ts";

/**
 * Issue 9, forged gossip: a bad signature, a message claiming a registered author it was not signed by,
 * an unsigned message, and a correctly signed one from an unregistered key. Real libp2p nodes over
 * 127.0.0.1; the forgeries are raw gossipsub RPC frames written to a /meshsub stream, since a normal
 * publish always signs correctly. StrictSign drops the forgeries inside gossipsub before cotrain's
 * validator runs (so they never reach a handler) and counts them as invalid deliveries (P4) against the
 * sender; the unregistered author is rejected by cotrain's validator as NOT_REGISTERED.
 */
const RUN = "sig";

function announcement(round: number): Uint8Array {
  const payload = randomBytes(64);
  return UpdateAnnouncement.encode({
    runId: RUN,
    round,
    baseModelHash: sha256Bytes(new Uint8Array([1])),
    payloadHash: sha256Bytes(payload),
    payloadBytes: payload.length,
    dataDigest: sha256Bytes(new Uint8Array([2])),
    inlinePayload: new Uint8Array(payload),
    multiaddrs: [],
  });
}

async function node(identity: Identity, registered: Set<string>, registry?: Registry): Promise<P2PNode> {
  const n = await P2PNode.init(
    { runId: RUN, listen: ["/ip4/127.0.0.1/tcp/0"], heartbeatIntervalMs: 200 },
    {
      identity,
      isRegistered: (a) => registered.has(a),
      currentRound: () => 5,
      blobStore: { get: async () => undefined },
      registry,
    },
  );
  await n.start();
  return n;
}

describe("forged and unregistered gossip", { timeout: 60_000 }, () => {
  const alice = randomIdentity(); // registered
  const mallory = randomIdentity(); // not registered
  const registered = new Set([alice.address]);
  const registry = new Registry();
  let receiver: P2PNode;
  let aliceNode: P2PNode;
  let malloryNode: P2PNode;
  const delivered: string[] = [];

  before(async () => {
    receiver = await node(randomIdentity(), registered, registry);
    aliceNode = await node(alice, registered);
    malloryNode = await node(mallory, new Set([mallory.address]));
    receiver.onAnnouncement((_, from) => delivered.push(from.address));
    await aliceNode.dial(receiver.multiaddrs[0]);
    await malloryNode.dial(receiver.multiaddrs[0]);
    await new Promise((r) => setTimeout(r, 1500));
  });

  after(async () => {
    await Promise.all([receiver?.stop(), aliceNode?.stop(), malloryNode?.stop()]);
  });

  it("drops forged signatures before delivery and penalizes the sender; rejects the unregistered author", async () => {
    // control: a registered author's correctly signed announcement is delivered
    await aliceNode.publishUpdate(UpdateAnnouncement.decode(announcement(5)));
    // mallory, correctly signed but unregistered: cotrain's validator rejects it (NOT_REGISTERED)
    await malloryNode.publishUpdate(UpdateAnnouncement.decode(announcement(5)));
    await new Promise((r) => setTimeout(r, 1000));
    const scoreBefore = receiver.getScore(mallory.peerId);
    // forgeries, as raw RPC frames on a gossipsub stream from mallory
    const topic = topicName(RUN, "updates");
    const forged: RPC.Message[] = [
      // claims alice, random signature
      {
        from: alice.peerId.toMultihash().bytes,
        data: announcement(5),
        seqno: randomBytes(8),
        topic,
        signature: randomBytes(64),
      },
      // claims alice, no signature
      { from: alice.peerId.toMultihash().bytes, data: announcement(5), seqno: randomBytes(8), topic },
      // mallory's own id, garbage signature and a key that is not its own
      {
        from: mallory.peerId.toMultihash().bytes,
        data: announcement(5),
        seqno: randomBytes(8),
        topic,
        signature: randomBytes(64),
        key: randomBytes(37),
      },
    ];
    const stream = await malloryNode.libp2p.dialProtocol(receiver.peerId, ["/meshsub/1.2.0", "/meshsub/1.1.0"]);
    for (const m of forged) {
      if (!stream.send(lp.encode.single(RPC.encode({ subscriptions: [], messages: [m] })))) await stream.onDrain();
    }
    await new Promise((r) => setTimeout(r, 1500));

    assert.deepEqual(delivered, [alice.address], "only alice's genuine announcement reached the application");
    const text = await registry.metrics();
    assert.match(
      text,
      /cotrain_p2p_gossip_validation_total\{topic="updates",result="reject",reason="NOT_REGISTERED"\} 1/,
    );
    assert.match(text, /cotrain_p2p_gossip_validation_total\{topic="updates",result="accept",reason="ok"\} 1/);
    // the forgeries never reached cotrain's validator (no other reasons counted) but cost mallory score
    assert.doesNotMatch(text, /reason="(DECODE_FAILED|EQUIVOCATION|UNSIGNED)"/);
    const score = receiver.getScore(mallory.peerId);
    assert.ok(score < scoreBefore && score < 0, `mallory's gossipsub score ${scoreBefore} -> ${score}`);
    console.log(JSON.stringify({ malloryScoreAfterUnregistered: scoreBefore, malloryScoreAfterForgeries: score }));
    assert.ok(receiver.getScore(alice.peerId) >= 0, "alice is not penalized for messages forged in her name");
  });
});
