import { createHash } from "node:crypto";
import type { Message, SignedMessage } from "@libp2p/gossipsub";
import { RPC } from "@libp2p/gossipsub/message";
import type { PeerId, Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import * as lp from "it-length-prefixed";
import { type BlobComponents, type ServeGate, admit } from "./blob.ts";
import { SYNC_PROTOCOL } from "./constants.ts";
import type { P2PMetrics } from "./metrics.ts";
import { capIncoming, readRequest, sendLp } from "./stream-io.ts";
import { AnnouncementsRequest, SignedGossip } from "./pb/sync.ts";

// gossipsub signs "libp2p-pubsub:" || RPC.Message{from, data, seqno, topic} (pubsub spec, "Message Signing")
const SIGN_PREFIX = new TextEncoder().encode("libp2p-pubsub:");
// a request is a run id and three numbers; anything bigger is not a request
const MAX_REQUEST_BYTES = 256;
/** Framing allowance of one SignedGossip on top of its data: PeerId string, seqno, topic, signature. */
const ENVELOPE_OVERHEAD = 1024;

const envelopeKey = (from: string, data: Uint8Array) => `${from}/${createHash("sha256").update(data).digest("hex")}`;

/** A gossipsub signed message as the sync protocol carries it (and as equivocation evidence keeps it). */
export function toSignedGossip(msg: SignedMessage): SignedGossip {
  const seqno = new Uint8Array(8);
  new DataView(seqno.buffer).setBigUint64(0, msg.sequenceNumber, false);
  return {
    from: msg.from.toString(),
    data: new Uint8Array(msg.data),
    seqno,
    topic: msg.topic,
    signature: new Uint8Array(msg.signature),
  };
}

/** Accepted signed announcements by round, kept for peers that missed them. */
export class AnnouncementLog {
  private readonly byRound = new Map<number, SignedGossip[]>();
  /** `${from}/${sha256(data)}` of every kept envelope → its round: a sync skips what we already have. */
  private readonly known = new Map<string, number>();

  constructor(private readonly retainRounds: number) {}

  add(round: number, msg: SignedMessage): void {
    let list = this.byRound.get(round);
    if (!list) {
      list = [];
      this.byRound.set(round, list);
      const newest = Math.max(...this.byRound.keys());
      for (const r of this.byRound.keys()) if (r <= newest - this.retainRounds) this.byRound.delete(r);
      for (const [k, r] of this.known) if (!this.byRound.has(r)) this.known.delete(k);
    }
    if (!this.byRound.has(round)) return; // older than the retention window
    const envelope = toSignedGossip(msg);
    list.push(envelope);
    this.known.set(envelopeKey(envelope.from, msg.data), round);
  }

  /** The kept envelope of `from` on `topic` for `round` (the version accepted first). */
  find(round: number, from: string, topic: string): SignedGossip | undefined {
    return this.byRound.get(round)?.find((m) => m.from === from && m.topic === topic);
  }

  /** Whether this author's exact message is already kept (no need to verify its signature again). */
  has(m: Pick<SignedGossip, "from" | "data">): boolean {
    return this.known.has(envelopeKey(m.from, m.data));
  }

  /** The kept envelopes of rounds [fromRound, toRound], oldest round first, at most `maxMessages`/`maxBytes`. */
  range(fromRound: number, toRound: number, caps: { maxMessages: number; maxBytes: number }): SignedGossip[] {
    const out: SignedGossip[] = [];
    let bytes = 0;
    const rounds = [...this.byRound.keys()].filter((r) => r >= fromRound && r <= toRound).sort((a, b) => a - b);
    for (const r of rounds) {
      for (const m of this.byRound.get(r)!) {
        const size = m.data.byteLength + ENVELOPE_OVERHEAD;
        if (out.length >= caps.maxMessages || bytes + size > caps.maxBytes) return out;
        out.push(m);
        bytes += size;
      }
    }
    return out;
  }
}

export interface SyncLimits {
  /** Per-response caps (syncMaxMessages, syncMaxBytes): what we send at most, and read at most. */
  maxMessages: number;
  maxBytes: number;
  /** Largest single envelope's data (maxGossipBytes). */
  maxMessageBytes: number;
}

/** The request's caps, never above ours; 0 (an older requester) means ours. */
function capsFor(req: AnnouncementsRequest, limits: SyncLimits): { maxMessages: number; maxBytes: number } {
  return {
    maxMessages: Math.min(req.maxMessages || limits.maxMessages, limits.maxMessages),
    maxBytes: Math.min(req.maxBytes || limits.maxBytes, limits.maxBytes),
  };
}

/**
 * Serves `/cotrain/announcements/1.0.0` from the log: one request, then length-prefixed SignedGossip
 * messages. Registered participants only, at most `gate.limiter`'s streams per peer and in total; a
 * refused requester gets an empty response (nothing it could tell apart from "I have nothing").
 */
export async function handleSyncRequests(
  components: BlobComponents,
  runId: string,
  log: AnnouncementLog,
  gate: ServeGate,
  opts: SyncLimits & { timeoutMs: number },
  metrics: P2PMetrics | null,
): Promise<void> {
  await components.handle(
    SYNC_PROTOCOL,
    async (stream: Stream, connection) => {
      const signal = AbortSignal.timeout(opts.timeoutMs);
      const onAbort = () => stream.abort(new Error("announcement response timed out"));
      signal.addEventListener("abort", onAbort, { once: true });
      let release: (() => void) | undefined;
      try {
        // registration first (cached "no"s make it cheap), so outsiders never occupy a slot
        const verdict = await admit(gate, connection.remotePeer);
        const slot = verdict === "ok" ? gate.limiter.acquire(connection.remotePeer.toString()) : null;
        if (slot === null) metrics?.refusals.inc({ resource: "sync_serve", reason: verdict });
        else if ("refused" in slot) metrics?.refusals.inc({ resource: "sync_serve", reason: slot.refused });
        else {
          release = slot.release;
          const req = AnnouncementsRequest.decode(await readRequest(stream, MAX_REQUEST_BYTES));
          const msgs = req.runId === runId ? log.range(req.fromRound, req.toRound, capsFor(req, opts)) : [];
          for (const m of msgs) await sendLp(stream, SignedGossip.encode(m), signal);
        }
        await stream.close({ signal });
      } catch (err) {
        stream.abort(err as Error);
      } finally {
        release?.();
        signal.removeEventListener("abort", onAbort);
      }
    },
    // libp2p's hard cap per connection; our limiter refuses well below it
    { maxInboundStreams: 8, runOnLimitedConnection: true },
  );
}

export interface SyncResult {
  /** Envelopes with a valid author signature, handed to `onMessage`. */
  valid: number;
  /** An envelope whose signature failed: the response was cut there (an honest server re-serves verified ones). */
  badSignature: boolean;
  /** The response went past our caps (count or bytes): cut there. */
  truncated: boolean;
}

/**
 * Asks `peer` for the signed announcements of rounds [req.fromRound, req.toRound] and hands each
 * envelope whose author signature verifies to `onMessage`, in order and one at a time (so a fast server
 * cannot queue more than the stream window ahead of us). Reading stops at the caps, at the first bad
 * signature, or when `signal` fires; the caller's deadline covers all peers at once.
 */
export async function requestAnnouncements(
  components: BlobComponents,
  peer: PeerId,
  req: Pick<AnnouncementsRequest, "runId" | "fromRound" | "toRound">,
  opts: SyncLimits & {
    signal: AbortSignal;
    skip?: (m: SignedGossip) => boolean;
    onMessage: (msg: Message) => Promise<void>;
  },
): Promise<SyncResult> {
  const { signal } = opts;
  const stream = await components.dialProtocol(peer, SYNC_PROTOCOL, { signal, runOnLimitedConnection: true });
  const onAbort = () => stream.abort(new Error("announcement sync timed out"));
  if (signal.aborted) onAbort();
  signal.addEventListener("abort", onAbort, { once: true });
  const res: SyncResult = { valid: 0, badSignature: false, truncated: false };
  // counted on arrival too: a server that sends faster than we verify must not queue past the cap
  const uncap = capIncoming(stream, opts.maxBytes, () => {
    res.truncated = true;
  });
  try {
    const full: AnnouncementsRequest = { ...req, maxMessages: opts.maxMessages, maxBytes: opts.maxBytes };
    await sendLp(stream, AnnouncementsRequest.encode(full), signal);
    await stream.close({ signal });
    let count = 0;
    let bytes = 0;
    for await (const raw of lp.decode(stream, { maxDataLength: opts.maxMessageBytes + ENVELOPE_OVERHEAD })) {
      count++;
      bytes += raw.byteLength;
      if (count > opts.maxMessages || bytes > opts.maxBytes) {
        res.truncated = true;
        break;
      }
      const m = SignedGossip.decode(raw);
      if (opts.skip?.(m)) continue;
      const msg = await verifySigned(m);
      if (msg === null) {
        res.badSignature = true;
        break;
      }
      res.valid++;
      await opts.onMessage(msg);
    }
    if (res.truncated || res.badSignature) stream.abort(new Error("response cut off"));
  } catch (err) {
    if (!res.truncated) throw err; // cut off by capIncoming: a result, not a failure
  } finally {
    uncap();
    signal.removeEventListener("abort", onAbort);
  }
  return res;
}

/** Re-checks the author's StrictSign signature, as gossipsub does for live messages; null if it fails. */
export async function verifySigned(m: SignedGossip): Promise<SignedMessage | null> {
  let from: PeerId;
  try {
    from = peerIdFromString(m.from);
  } catch {
    return null;
  }
  if (!from.publicKey || m.seqno.byteLength !== 8) return null;
  const unsigned = RPC.Message.encode({ from: from.toMultihash().bytes, data: m.data, seqno: m.seqno, topic: m.topic });
  const signed = new Uint8Array(SIGN_PREFIX.byteLength + unsigned.byteLength);
  signed.set(SIGN_PREFIX);
  signed.set(unsigned, SIGN_PREFIX.byteLength);
  if (!(await from.publicKey.verify(signed, m.signature))) return null;
  const sequenceNumber = new DataView(m.seqno.buffer, m.seqno.byteOffset, 8).getBigUint64(0, false);
  return {
    type: "signed",
    from,
    topic: m.topic,
    data: m.data,
    sequenceNumber,
    signature: m.signature,
    key: from.publicKey,
  };
}
