import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Message } from "@libp2p/gossipsub";
import { sha256Bytes } from "../../node/hash/index.ts";
import { randomIdentity } from "../../node/identity/index.ts";
import { modelPresets, paramSpecs } from "../../node/model/index.ts";
import {
  CheckpointAnnouncement,
  GossipValidationError,
  GossipValidator,
  StatusHeartbeat,
  type TopicKind,
  UpdateAnnouncement,
  defaultP2POptions,
  toValidationOutcome,
  topicName,
} from "../../node/p2p/index.ts";
import { checkValidity, detectCopies, medianNormBound } from "../../node/scoring/index.ts";
import {
  type SparseUpdate,
  SparseLocoDecodeError,
  compressTensor,
  decodeUpdate,
  encodeUpdate,
  selectedCoordinates,
} from "../../node/sparseloco/index.ts";

/**
 * Issue 9 fuzz: >= 100,000 mutated gossip messages and update payloads through the validator-side
 * pipeline a validator node runs on every message, in-process (no sockets: a crash, an unhandled
 * rejection or a leak shows up here without the noise of timing): GossipValidator.validate (the
 * function behind every topic's accept/ignore/reject), decodeUpdate on every inline payload that passes
 * gossip validation (the inbox path), then the scorer's validity checks (finite, norm bound, sorted
 * indices, copy detection) on every payload that decodes. Every failure must be a typed error
 * (GossipValidationError, SparseLocoDecodeError); anything else escaping is a bug.
 */
const RUN = "fuzz";
const ROUND = 10;
const GOSSIP_CASES = 60_000;
const PAYLOAD_CASES = 50_000;

/** xorshift32: reproducible cases (a failure prints its seed and case number). */
function prng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  return {
    next,
    int: (n: number) => next() % Math.max(1, n),
    bytes: (n: number) => Uint8Array.from({ length: n }, () => next() & 0xff),
  };
}
type Rng = ReturnType<typeof prng>;

/** One random mutation of `b`: bit flips, byte overwrite, truncation, insertion, duplication, splice, 0x00/0xff runs. */
function mutate(b: Uint8Array, rng: Rng, other?: Uint8Array): Uint8Array {
  const out = Uint8Array.from(b);
  const at = rng.int(out.length + 1);
  switch (rng.int(8)) {
    case 0: {
      for (let i = 1 + rng.int(8); i > 0 && out.length; i--) out[rng.int(out.length)] ^= 1 << rng.int(8);
      return out;
    }
    case 1: {
      const n = Math.min(out.length - at, 1 + rng.int(16));
      out.set(rng.bytes(Math.max(0, n)), at);
      return out;
    }
    case 2:
      return out.slice(0, at);
    case 3: {
      const ins = rng.bytes(1 + rng.int(32));
      return Uint8Array.from([...out.subarray(0, at), ...ins, ...out.subarray(at)]);
    }
    case 4: {
      const len = Math.min(out.length - at, 1 + rng.int(64));
      return Uint8Array.from([...out.subarray(0, at + len), ...out.subarray(at, at + len), ...out.subarray(at + len)]);
    }
    case 5:
      return other
        ? Uint8Array.from([...out.subarray(0, at), ...other.subarray(rng.int(other.length))])
        : out.reverse();
    case 6: {
      const v = rng.int(2) ? 0xff : 0x00;
      for (let i = at; i < Math.min(out.length, at + 1 + rng.int(12)); i++) out[i] = v;
      return out;
    }
    default:
      return rng.bytes(rng.int(2048));
  }
}

/** Stand-in for the scorer's per-update checks on a decoded update (sparse kept values: same norm). */
function scoreChecks(updates: SparseUpdate[], specs: ReturnType<typeof paramSpecs>): void {
  const norms: number[] = [];
  for (const u of updates) {
    const values = [...u.values()].map((t) => Float32Array.from(t.codes, (c) => t.table[c]));
    const v = checkValidity({ tensors: values });
    if (v.valid) norms.push(v.norm);
  }
  const bound = medianNormBound(norms, 10);
  for (const u of updates)
    checkValidity({ tensors: [...u.values()].map((t) => Float32Array.from(t.codes, (c) => t.table[c])) }, bound);
  detectCopies(
    updates.map((u, i) => ({ id: String(i), indices: selectedCoordinates(u, specs) })),
    0.4,
  );
}

function heapAfterGc(): number {
  const gc = runInNewContext("gc") as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe("fuzz: validator-side gossip and payload pipeline", { timeout: 600_000 }, () => {
  setFlagsFromString("--expose_gc");
  const specs = paramSpecs(modelPresets.nano);
  const registered = randomIdentity();
  const outsider = randomIdentity();
  // A real update of the nano model: random pseudo-gradient through SparseLoCo's compressor.
  const rng0 = prng(1);
  const honest = encodeUpdate(
    specs.map((s) => {
      const n = s.shape.reduce((a, b) => a * b, 1);
      const delta = Float32Array.from({ length: n }, () => (rng0.next() / 0xffffffff - 0.5) * 1e-2);
      return compressTensor(delta, new Float32Array(n), s);
    }),
  );
  const seedAnn: UpdateAnnouncement = {
    runId: RUN,
    round: ROUND,
    baseModelHash: sha256Bytes(new Uint8Array([1])),
    payloadHash: sha256Bytes(honest),
    payloadBytes: honest.length,
    dataDigest: sha256Bytes(new Uint8Array([2])),
    inlinePayload: new Uint8Array(honest),
    multiaddrs: [],
  };
  const seeds: Record<TopicKind, Uint8Array> = {
    updates: UpdateAnnouncement.encode(seedAnn),
    checkpoints: CheckpointAnnouncement.encode({
      runId: RUN,
      round: ROUND,
      modelHash: sha256Bytes(new Uint8Array([3])),
      payloadHash: sha256Bytes(new Uint8Array([4])),
      payloadBytes: 1000,
      uri: "blob:x",
      multiaddrs: [],
    }),
    status: StatusHeartbeat.encode({
      runId: RUN,
      role: "peer",
      round: ROUND,
      modelHash: sha256Bytes(new Uint8Array([5])),
      backend: "wasm",
      tokensPerS: 1000,
      timestamp: Date.now(),
      version: "0.1.0",
    }),
  };
  const kinds: TopicKind[] = ["updates", "checkpoints", "status"];
  const msg = (kind: TopicKind, data: Uint8Array, from = registered): Message => ({
    type: "signed",
    from: from.peerId,
    topic: topicName(RUN, kind),
    data,
    sequenceNumber: 1n,
    signature: new Uint8Array(64),
    key: from.peerId.publicKey!,
  });

  it(`${GOSSIP_CASES + PAYLOAD_CASES} mutated messages and payloads: only typed errors, no unhandled rejection, bounded heap`, async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    const outcomes = new Map<string, number>();
    const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    const pool = Array.from({ length: 40 }, () => randomIdentity());
    const allowed = new Set([registered.address, ...pool.map((p) => p.address)]);
    const makeValidator = () =>
      new GossipValidator(
        { ...defaultP2POptions, runId: RUN },
        { isRegistered: async (a) => allowed.has(a), currentRound: () => ROUND },
      );
    const validator = makeValidator();
    let structured = makeValidator();
    const decoded: SparseUpdate[] = [];
    const decode = (bytes: Uint8Array, where: string, seed: number, i: number) => {
      try {
        const u = decodeUpdate(bytes, specs);
        count(`${where}:decoded`);
        decoded.push(u);
        if (decoded.length >= 4) scoreChecks(decoded.splice(0), specs);
      } catch (err) {
        assert.ok(err instanceof SparseLocoDecodeError, `${where} seed ${seed} case ${i}: ${String(err)}`);
        count(`${where}:${err.reason}`);
      }
    };

    const heapBefore = heapAfterGc();
    const t0 = performance.now();
    const seed = 0x9e3779b9;
    const rng = prng(seed);
    for (let i = 0; i < GOSSIP_CASES; i++) {
      const kind = kinds[rng.int(3)];
      let data: Uint8Array;
      let v = validator;
      let from = i % 50 === 0 ? outsider : registered;
      if (kind === "updates" && i % 3 === 0) {
        // structure-aware: a mutated payload with a correct hash, so it reaches decodeUpdate; many
        // senders and a fresh validator now and then, so "one announcement per peer per round" does
        // not turn them all into equivocations
        const payload = mutate(honest, rng);
        data = UpdateAnnouncement.encode({
          ...seedAnn,
          round: ROUND - 2 + rng.int(5),
          payloadHash: sha256Bytes(payload),
          payloadBytes: payload.length,
          inlinePayload: new Uint8Array(payload),
        });
        if (i % 600 === 0) structured = makeValidator();
        v = structured;
        from = pool[i % pool.length];
      } else {
        data = mutate(seeds[kind], rng, seeds[kinds[rng.int(3)]]);
      }
      try {
        const v2 = await v.validate(kind, msg(kind, data, from), from.peerId);
        count("gossip:accept");
        if (v2.decoded.kind === "updates" && v2.decoded.message.inlinePayload)
          decode(v2.decoded.message.inlinePayload, "inline", seed, i);
      } catch (err) {
        assert.ok(err instanceof GossipValidationError, `gossip seed ${seed} case ${i}: ${String(err)}`);
        assert.notEqual(toValidationOutcome(err).reason, "INTERNAL");
        count(`gossip:${err.code}`);
      }
    }
    for (let i = 0; i < PAYLOAD_CASES; i++) decode(mutate(honest, rng), "payload", seed, i);
    if (decoded.length > 0) scoreChecks(decoded, specs);
    const seconds = (performance.now() - t0) / 1000;
    await new Promise((r) => setImmediate(r));
    const heapAfter = heapAfterGc();
    process.off("unhandledRejection", onUnhandled);

    const summary = Object.fromEntries([...outcomes].sort());
    console.log(
      JSON.stringify({
        cases: GOSSIP_CASES + PAYLOAD_CASES,
        seconds: Number(seconds.toFixed(1)),
        heapBeforeMiB: +(heapBefore / 2 ** 20).toFixed(1),
        heapAfterMiB: +(heapAfter / 2 ** 20).toFixed(1),
        outcomes: summary,
      }),
    );
    assert.deepEqual(unhandled, []);
    // the fuzz reached every stage: accepted gossip, decoded payloads and typed rejections of each
    assert.ok((outcomes.get("gossip:accept") ?? 0) > 1000, "some mutated gossip was accepted");
    assert.ok(
      (outcomes.get("inline:decoded") ?? 0) + (outcomes.get("payload:decoded") ?? 0) > 100,
      "some mutated payloads decoded",
    );
    assert.ok(
      [...outcomes.keys()].filter((k) => k.startsWith("payload:") && k !== "payload:decoded").length >= 5,
      "several decode error reasons",
    );
    // the validator's per-round record is bounded by the round window, not by the number of messages
    assert.ok(
      heapAfter - heapBefore < 32 * 2 ** 20,
      `heap grew by ${((heapAfter - heapBefore) / 2 ** 20).toFixed(1)} MiB`,
    );
  });
});
