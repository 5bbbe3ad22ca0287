import type { Message, SignedMessage } from "@libp2p/gossipsub";
import { RPC } from "@libp2p/gossipsub/message";
import type { PeerId, Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import * as lp from "it-length-prefixed";
import type { BlobComponents } from "./blob.ts";
import { SYNC_PROTOCOL } from "./constants.ts";
import { AnnouncementsRequest, SignedGossip } from "./pb/sync.ts";

// gossipsub signs "libp2p-pubsub:" || RPC.Message{from, data, seqno, topic} (pubsub spec, "Message Signing")
const SIGN_PREFIX = new TextEncoder().encode("libp2p-pubsub:");
/** One round of a run carries at most one update and one checkpoint per participant. */
const MAX_MESSAGES_PER_RESPONSE = 4096;

/** Accepted signed announcements by round, kept for peers that missed them. */
export class AnnouncementLog {
  private readonly byRound = new Map<number, SignedGossip[]>();

  constructor(private readonly retainRounds: number) {}

  add(round: number, msg: SignedMessage): void {
    let list = this.byRound.get(round);
    if (!list) {
      list = [];
      this.byRound.set(round, list);
      const newest = Math.max(...this.byRound.keys());
      for (const r of this.byRound.keys()) if (r <= newest - this.retainRounds) this.byRound.delete(r);
    }
    const seqno = new Uint8Array(8);
    new DataView(seqno.buffer).setBigUint64(0, msg.sequenceNumber, false);
    list.push({
      from: msg.from.toString(),
      data: new Uint8Array(msg.data),
      seqno,
      topic: msg.topic,
      signature: new Uint8Array(msg.signature),
    });
  }

  range(fromRound: number, toRound: number): SignedGossip[] {
    const out: SignedGossip[] = [];
    for (const [r, list] of this.byRound) if (r >= fromRound && r <= toRound) out.push(...list);
    return out.slice(0, MAX_MESSAGES_PER_RESPONSE);
  }
}

/** Serves `/cotrain/announcements/1.0.0` from the log: one request, then length-prefixed SignedGossip messages. */
export async function handleSyncRequests(
  components: BlobComponents,
  runId: string,
  log: AnnouncementLog,
  timeoutMs: number,
): Promise<void> {
  await components.handle(
    SYNC_PROTOCOL,
    async (stream: Stream) => {
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const first = await lp.decode(stream, { maxDataLength: 256 })[Symbol.asyncIterator]().next();
        if (first.done) throw new Error("no request");
        const req = AnnouncementsRequest.decode(first.value);
        const msgs = req.runId === runId ? log.range(req.fromRound, req.toRound) : [];
        for (const m of msgs)
          if (!stream.send(lp.encode.single(SignedGossip.encode(m)))) await stream.onDrain({ signal });
        await stream.close({ signal });
      } catch (err) {
        stream.abort(err as Error);
      }
    },
    { maxInboundStreams: 4 },
  );
}

/** Asks `peer` for the signed announcements of rounds [fromRound, toRound]; signatures are verified here. */
export async function requestAnnouncements(
  components: BlobComponents,
  peer: PeerId,
  req: AnnouncementsRequest,
  opts: { timeoutMs: number; maxMessageBytes: number },
): Promise<{ valid: Message[]; badSignatures: number }> {
  const signal = AbortSignal.timeout(opts.timeoutMs);
  const stream = await components.dialProtocol(peer, SYNC_PROTOCOL, { signal });
  const onAbort = () => stream.abort(new Error("announcement sync timed out"));
  signal.addEventListener("abort", onAbort, { once: true });
  const valid: Message[] = [];
  let badSignatures = 0;
  try {
    if (!stream.send(lp.encode.single(AnnouncementsRequest.encode(req)))) await stream.onDrain({ signal });
    await stream.close({ signal });
    let count = 0;
    for await (const raw of lp.decode(stream, { maxDataLength: opts.maxMessageBytes + 1024 })) {
      if (++count > MAX_MESSAGES_PER_RESPONSE) break;
      const m = SignedGossip.decode(raw);
      const msg = await verifySigned(m);
      if (msg) valid.push(msg);
      else badSignatures++;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  return { valid, badSignatures };
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
