import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Message, TopicValidatorResult } from "@libp2p/gossipsub";
import { RPC } from "@libp2p/gossipsub/message";
import { sha256Bytes } from "../../node/hash/index.ts";
import { randomIdentity } from "../../node/identity/index.ts";
import {
  CheckpointAnnouncement,
  GossipAction,
  GossipValidationError,
  GossipValidator,
  INLINE_PAYLOAD_LIMIT,
  StatusHeartbeat,
  UpdateAnnouncement,
  defaultP2POptions,
  toValidationOutcome,
  topicName,
  verifySigned,
} from "../../node/p2p/index.ts";

const alice = randomIdentity();
const relay = randomIdentity();

function signedMsg(data: Uint8Array, from = alice): Message {
  return {
    type: "signed",
    from: from.peerId,
    topic: topicName("r", "updates"),
    data,
    sequenceNumber: 1n,
    signature: new Uint8Array(64),
    key: from.peerId.publicKey!,
  };
}

function ann(over: Partial<UpdateAnnouncement> = {}): Uint8Array {
  const payload = new Uint8Array(100).fill(7);
  return UpdateAnnouncement.encode({
    runId: "r",
    round: 10,
    baseModelHash: sha256Bytes(new Uint8Array(1)),
    payloadHash: sha256Bytes(payload),
    payloadBytes: payload.byteLength,
    dataDigest: sha256Bytes(new Uint8Array(2)),
    inlinePayload: payload,
    multiaddrs: [],
    ...over,
  });
}

async function verdict(v: GossipValidator, data: Uint8Array, from = alice, source = from.peerId) {
  try {
    await v.validate("updates", signedMsg(data, from), source);
    return "ACCEPT";
  } catch (err) {
    assert.ok(err instanceof GossipValidationError, String(err));
    return `${err.action}:${err.code}`;
  }
}

describe("p2p validation", () => {
  const registered = new Set([alice.address]);
  const make = () =>
    new GossipValidator(
      { ...defaultP2POptions, runId: "r" },
      { isRegistered: (a) => registered.has(a), currentRound: () => 10 },
    );

  it("accepts a well-formed announcement and maps each error to ignore/reject", async () => {
    const v = make();
    assert.equal(await verdict(v, ann()), "ACCEPT");
    assert.equal(await verdict(v, ann({ runId: "other", round: 9 })), "REJECT:WRONG_RUN");
    assert.equal(await verdict(make(), ann(), relay), "REJECT:NOT_REGISTERED");
    assert.equal(await verdict(v, ann({ round: 20 })), "IGNORE:ROUND_OUT_OF_WINDOW");
    assert.equal(await verdict(v, ann({ round: 7 })), "IGNORE:ROUND_OUT_OF_WINDOW");
    assert.equal(
      await verdict(v, ann({ round: 9, inlinePayload: new Uint8Array(100) })),
      "REJECT:INLINE_HASH_MISMATCH",
    );
    const big = new Uint8Array(INLINE_PAYLOAD_LIMIT + 1);
    assert.equal(
      await verdict(v, ann({ round: 9, inlinePayload: big, payloadBytes: big.length, payloadHash: sha256Bytes(big) })),
      "REJECT:INLINE_TOO_LARGE",
    );
    assert.equal(await verdict(v, ann({ round: 9, payloadHash: new Uint8Array(5) })), "REJECT:BAD_HASH");
    assert.equal(await verdict(v, new Uint8Array([0xff, 0xff, 0xff])), "REJECT:DECODE_FAILED");
  });

  it("one announcement per peer per round: duplicate ignored, a different one rejected from the author, ignored from a relay", async () => {
    const v = make();
    assert.equal(await verdict(v, ann()), "ACCEPT");
    assert.equal(await verdict(v, ann()), "IGNORE:DUPLICATE");
    const other = ann({ dataDigest: sha256Bytes(new Uint8Array(3)) });
    assert.equal(await verdict(v, other, alice, relay.peerId), "IGNORE:EQUIVOCATION");
    assert.equal(await verdict(v, other), "REJECT:EQUIVOCATION");
  });

  it("payloadBytes above the model's bound is rejected before anything is fetched (updates and checkpoints)", async () => {
    const v = new GossipValidator(
      { ...defaultP2POptions, runId: "r", maxUpdateBytes: 1000, maxCheckpointBytes: 5000 },
      { isRegistered: (a) => registered.has(a), currentRound: () => 10 },
    );
    assert.equal(await verdict(v, ann({ payloadBytes: 1000, inlinePayload: undefined })), "ACCEPT");
    assert.equal(
      await verdict(v, ann({ round: 9, payloadBytes: 1001, inlinePayload: undefined })),
      "REJECT:PAYLOAD_TOO_LARGE",
    );
    assert.equal(await verdict(v, ann({ round: 9, payloadBytes: 0, inlinePayload: undefined })), "REJECT:BAD_FIELD");
    const ck = (payloadBytes: number) =>
      CheckpointAnnouncement.encode({
        runId: "r",
        round: 10,
        modelHash: sha256Bytes(new Uint8Array(1)),
        payloadHash: sha256Bytes(new Uint8Array(2)),
        payloadBytes,
        multiaddrs: [],
      });
    const check = async (data: Uint8Array) => {
      try {
        await v.validate("checkpoints", { ...signedMsg(data), topic: topicName("r", "checkpoints") }, alice.peerId);
        return "ACCEPT";
      } catch (err) {
        return `${(err as GossipValidationError).action}:${(err as GossipValidationError).code}`;
      }
    };
    assert.equal(await check(ck(5001)), "REJECT:PAYLOAD_TOO_LARGE");
    assert.equal(await check(ck(5000)), "ACCEPT");
  });

  it("heartbeats: above maxStatusBytes rejected undecoded; above the per-author rate rejected from the author, ignored from a relay", async () => {
    const v = new GossipValidator(
      { ...defaultP2POptions, runId: "r", statusRateLimit: { points: 3, windowMs: 60_000 } },
      { isRegistered: (a) => registered.has(a) },
    );
    const beat = (version = "0.1.0") =>
      StatusHeartbeat.encode({
        runId: "r",
        role: "peer",
        round: 1,
        modelHash: new Uint8Array(0),
        backend: "cpu",
        tokensPerS: 1,
        timestamp: Date.now(),
        version,
      });
    const status = async (data: Uint8Array, source = alice.peerId) => {
      try {
        await v.validate("status", { ...signedMsg(data), topic: topicName("r", "status") }, source);
        return "ACCEPT";
      } catch (err) {
        return `${(err as GossipValidationError).action}:${(err as GossipValidationError).code}`;
      }
    };
    assert.equal(await status(beat("x".repeat(2000))), "REJECT:TOO_LARGE");
    for (let i = 0; i < 3; i++) assert.equal(await status(beat()), "ACCEPT");
    assert.equal(await status(beat(), relay.peerId), "IGNORE:RATE_LIMITED");
    assert.equal(await status(beat()), "REJECT:RATE_LIMITED");
  });

  it("toValidationOutcome is the one mapping to gossipsub results", () => {
    assert.equal(toValidationOutcome(null).result, TopicValidatorResult.Accept);
    assert.equal(
      toValidationOutcome(new GossipValidationError("EQUIVOCATION", GossipAction.REJECT, "x")).result,
      TopicValidatorResult.Reject,
    );
    assert.deepEqual(toValidationOutcome(new GossipValidationError("DUPLICATE", GossipAction.IGNORE, "x")), {
      result: TopicValidatorResult.Ignore,
      reason: "DUPLICATE",
    });
    assert.equal(toValidationOutcome(new Error("bug")).reason, "INTERNAL");
  });

  it("catch-up replays keep the author's StrictSign signature; altered data fails", async () => {
    const data = new Uint8Array(ann());
    const seqno = new Uint8Array(8).fill(1);
    const topic = topicName("r", "updates");
    const unsigned = RPC.Message.encode({ from: alice.peerId.toMultihash().bytes, data, seqno, topic });
    const signature = new Uint8Array(
      await alice.libp2pKey.sign(new Uint8Array([...new TextEncoder().encode("libp2p-pubsub:"), ...unsigned])),
    );
    const ok = await verifySigned({ from: alice.peerId.toString(), data, seqno, topic, signature });
    assert.ok(ok?.from.equals(alice.peerId));
    assert.equal(
      await verifySigned({
        from: alice.peerId.toString(),
        data: new Uint8Array(ann({ round: 11 })),
        seqno,
        topic,
        signature,
      }),
      null,
    );
    assert.equal(await verifySigned({ from: relay.peerId.toString(), data, seqno, topic, signature }), null);
  });

  it("protons code generated for runtime 7 round-trips on the installed runtime, with decode limits", () => {
    const bytes = ann({ payloadBytes: 5_000_000_000, multiaddrs: [new Uint8Array([4, 127, 0, 0, 1])] });
    const back = UpdateAnnouncement.decode(bytes);
    assert.equal(back.payloadBytes, 5_000_000_000);
    assert.equal(back.multiaddrs.length, 1);
    const many = ann({ multiaddrs: Array.from({ length: 9 }, () => new Uint8Array(1)) });
    assert.throws(() => UpdateAnnouncement.decode(many, { limits: { multiaddrs: 8 } }));
  });
});
