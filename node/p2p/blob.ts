import { createHash } from "node:crypto";
import type { AbortOptions, Connection, PeerId, Stream } from "@libp2p/interface";
import * as lp from "it-length-prefixed";
import { bytesToHex } from "../hash/index.ts";
import { BLOB_PROTOCOL } from "./constants.ts";
import { BlobError } from "./errors.ts";
import type { P2PMetrics } from "./metrics.ts";
import { BlobRequest, BlobResponse } from "./pb/blob.ts";
import { capIncoming, readRequest, sendLp } from "./stream-io.ts";
import type { StreamLimiter } from "./stream-limiter.ts";

/** A stored blob read in chunks: the server holds one chunk per stream, not the whole blob. */
export interface BlobReader {
  size: number;
  chunks(): AsyncIterable<Uint8Array>;
}

/** Where blobs live locally; keys are lowercase sha256 hex. The store module implements it over LevelDB. */
export interface BlobStore {
  get(hash: string): Promise<Uint8Array | undefined>;
  put?(hash: string, data: Uint8Array): Promise<void>;
  /** Size and a chunked reader; without it the server loads the blob whole (fine for in-memory stores). */
  open?(hash: string): Promise<BlobReader | undefined>;
}

/** Who may open streams to this node's servers, and how many at once (node.ts wires both). */
export interface ServeGate {
  /** The address of a registered remote peer, or null; may throw when the registry is unreachable. */
  registeredAddress(peer: PeerId): Promise<string | null>;
  limiter: StreamLimiter;
}

/** The part of libp2p the blob protocol needs (js-libp2p components style). */
export interface BlobComponents {
  handle(
    protocol: string,
    handler: (stream: Stream, connection: Connection) => void | Promise<void>,
    opts?: { maxInboundStreams?: number; runOnLimitedConnection?: boolean },
  ): Promise<void>;
  dialProtocol(
    peer: PeerId,
    protocol: string,
    opts?: AbortOptions & { runOnLimitedConnection?: boolean },
  ): Promise<Stream>;
}

/** Body chunks: big enough to keep per-chunk overhead (varint + yamux frame) far below 0.1 %. */
const CHUNK_BYTES = 256 * 1024;
// a request or header is a few dozen bytes; anything bigger on the control path is a protocol error
const MAX_CONTROL_BYTES = 1024;

/** Whether `peer` may be served: registered, not registered, or unknown because the registry failed. */
export async function admit(
  gate: Pick<ServeGate, "registeredAddress">,
  peer: PeerId,
): Promise<"ok" | "not_registered" | "registry_unavailable"> {
  try {
    return (await gate.registeredAddress(peer)) === null ? "not_registered" : "ok";
  } catch {
    return "registry_unavailable";
  }
}

async function readerFor(store: BlobStore, hex: string): Promise<BlobReader | undefined> {
  if (store.open) return store.open(hex);
  const data = await store.get(hex);
  if (data === undefined) return undefined;
  return {
    size: data.byteLength,
    chunks: async function* () {
      yield data;
    },
  };
}

/**
 * Serves `/cotrain/blob/1.0.0` from `store`: header {status, size}, then the body in length-prefixed chunks.
 * Only registered participants are served (FORBIDDEN otherwise), at most `gate.limiter`'s streams per peer
 * and in total (BUSY otherwise); the body is read from the store one chunk at a time and each chunk is
 * sent only when the previous one drained, so a slow reader holds one chunk of ours, not the blob.
 */
export async function handleBlobRequests(
  components: BlobComponents,
  store: BlobStore,
  gate: ServeGate,
  opts: { maxBytes: number; timeoutMs: number },
  metrics: P2PMetrics | null,
): Promise<void> {
  const refuse = async (stream: Stream, status: BlobResponse.Status, reason: string, signal: AbortSignal) => {
    metrics?.refusals.inc({ resource: "blob_serve", reason });
    await sendLp(stream, BlobResponse.encode({ status, size: 0 }), signal);
  };
  await components.handle(
    BLOB_PROTOCOL,
    async (stream, connection) => {
      const signal = AbortSignal.timeout(opts.timeoutMs);
      const onAbort = () => stream.abort(new BlobError("TIMEOUT", "blob response timed out"));
      signal.addEventListener("abort", onAbort, { once: true });
      let release: (() => void) | undefined;
      try {
        // registration first (cached "no"s make it cheap), so outsiders never occupy a slot
        const peer = connection.remotePeer;
        const verdict = await admit(gate, peer);
        if (verdict === "registry_unavailable") await refuse(stream, BlobResponse.Status.BUSY, verdict, signal);
        else if (verdict === "not_registered") await refuse(stream, BlobResponse.Status.FORBIDDEN, verdict, signal);
        else {
          const slot = gate.limiter.acquire(peer.toString());
          if ("refused" in slot) await refuse(stream, BlobResponse.Status.BUSY, slot.refused, signal);
          else {
            release = slot.release;
            await serveOne(stream, store, opts.maxBytes, signal, metrics);
          }
        }
        await stream.close({ signal });
      } catch (err) {
        stream.abort(err as Error);
      } finally {
        release?.();
        signal.removeEventListener("abort", onAbort);
      }
    },
    // libp2p's hard cap per connection; our limiter answers BUSY well below it
    { maxInboundStreams: 64, runOnLimitedConnection: true },
  );
}

async function serveOne(
  stream: Stream,
  store: BlobStore,
  maxBytes: number,
  signal: AbortSignal,
  metrics: P2PMetrics | null,
): Promise<void> {
  const req = BlobRequest.decode(await readRequest(stream, MAX_CONTROL_BYTES));
  const hex = bytesToHex(req.hash);
  const reader = req.hash.byteLength === 32 ? await readerFor(store, hex) : undefined;
  const header = (status: BlobResponse.Status, size: number) =>
    sendLp(stream, BlobResponse.encode({ status, size }), signal);
  if (reader === undefined) return header(BlobResponse.Status.NOT_FOUND, 0);
  if (reader.size > Math.min(req.maxBytes, maxBytes)) return header(BlobResponse.Status.TOO_LARGE, reader.size);
  await header(BlobResponse.Status.OK, reader.size);
  let sent = 0;
  for await (const chunk of reader.chunks()) {
    for (let off = 0; off < chunk.byteLength; off += CHUNK_BYTES) {
      const frame = chunk.subarray(off, off + CHUNK_BYTES);
      await sendLp(stream, frame, signal);
      sent += frame.byteLength;
    }
  }
  if (sent !== reader.size) throw new BlobError("PROTOCOL", `store gave ${sent} of ${reader.size} B of ${hex}`);
  metrics?.blobServedBytes.inc(sent);
}

/**
 * Fetches one blob from one peer and verifies it: the declared size against `maxBytes` before any body
 * byte is read, the running total against the declared size, and sha256 against `hash` at the end.
 */
export async function fetchBlobFrom(
  components: BlobComponents,
  peer: PeerId,
  hash: Uint8Array,
  opts: { maxBytes: number; timeoutMs: number },
): Promise<Uint8Array> {
  const signal = AbortSignal.timeout(opts.timeoutMs);
  let stream: Stream;
  try {
    stream = await components.dialProtocol(peer, BLOB_PROTOCOL, { signal, runOnLimitedConnection: true });
  } catch (err) {
    throw signal.aborted ? new BlobError("TIMEOUT", `dial ${peer} timed out`) : err;
  }
  const onAbort = () =>
    stream.abort(new BlobError("TIMEOUT", `blob from ${peer} timed out after ${opts.timeoutMs} ms`));
  signal.addEventListener("abort", onAbort, { once: true });
  // body, its chunk prefixes and the header: a server sending past that is cut off as the bytes arrive
  let overrun = false;
  const uncap = capIncoming(
    stream,
    opts.maxBytes + Math.ceil(opts.maxBytes / CHUNK_BYTES) * 8 + MAX_CONTROL_BYTES,
    () => {
      overrun = true;
    },
  );
  try {
    await sendLp(stream, BlobRequest.encode({ hash: new Uint8Array(hash), maxBytes: opts.maxBytes }), signal);
    await stream.close({ signal });
    let header: BlobResponse | undefined;
    let body: Uint8Array | undefined;
    let received = 0;
    const hasher = createHash("sha256");
    for await (const msg of lp.decode(stream, { maxDataLength: Math.max(CHUNK_BYTES, MAX_CONTROL_BYTES) })) {
      if (header === undefined) {
        header = BlobResponse.decode(msg);
        if (header.status === BlobResponse.Status.NOT_FOUND)
          throw new BlobError("NOT_FOUND", `${peer} does not have the blob`);
        if (header.status === BlobResponse.Status.BUSY) throw new BlobError("BUSY", `${peer} is at its stream limit`);
        if (header.status === BlobResponse.Status.FORBIDDEN)
          throw new BlobError("FORBIDDEN", `${peer} does not serve us (not registered, as far as it knows)`);
        // an honest server answers TOO_LARGE (e.g. the announcer understated the size); OK with a size
        // above what we asked for breaks the protocol: refused here, before any body byte is buffered
        if (header.status === BlobResponse.Status.TOO_LARGE)
          throw new BlobError("TOO_LARGE", `blob is ${header.size} B, limit ${opts.maxBytes} B`);
        if (header.size > opts.maxBytes)
          throw new BlobError(
            "OVERSIZED",
            `${peer} declared ${header.size} B, we asked for at most ${opts.maxBytes} B`,
          );
        body = new Uint8Array(header.size);
        continue;
      }
      if (received + msg.byteLength > header.size)
        throw new BlobError("PROTOCOL", `${peer} sent more than the declared ${header.size} B`);
      for (const part of msg) {
        body!.set(part, received);
        hasher.update(part);
        received += part.byteLength;
      }
    }
    if (header === undefined) throw new BlobError("PROTOCOL", `${peer} closed without a response`);
    if (received !== header.size) throw new BlobError("PROTOCOL", `${peer} sent ${received} of ${header.size} B`);
    if (!Buffer.from(hasher.digest()).equals(Buffer.from(hash)))
      throw new BlobError("HASH_MISMATCH", `${peer} served bytes with another sha256`);
    return body!;
  } catch (err) {
    stream.abort(err as Error);
    if (overrun) throw new BlobError("OVERSIZED", `${peer} sent more than the ${opts.maxBytes} B we asked for`);
    if (signal.aborted && !(err instanceof BlobError && err.code !== "TIMEOUT")) {
      throw new BlobError("TIMEOUT", `blob from ${peer} timed out after ${opts.timeoutMs} ms`);
    }
    throw err;
  } finally {
    uncap();
    signal.removeEventListener("abort", onAbort);
  }
}
