import { createHash } from "node:crypto";
import type { AbortOptions, Connection, PeerId, Stream } from "@libp2p/interface";
import * as lp from "it-length-prefixed";
import { bytesToHex } from "../hash/index.ts";
import { BLOB_PROTOCOL } from "./constants.ts";
import { BlobError } from "./errors.ts";
import type { P2PMetrics } from "./metrics.ts";
import { BlobRequest, BlobResponse } from "./pb/blob.ts";

/** Where blobs live locally; keys are lowercase sha256 hex. The store module implements it over LevelDB. */
export interface BlobStore {
  get(hash: string): Promise<Uint8Array | undefined>;
  put?(hash: string, data: Uint8Array): Promise<void>;
}

/** The part of libp2p the blob protocol needs (js-libp2p components style). */
export interface BlobComponents {
  handle(
    protocol: string,
    handler: (stream: Stream, connection: Connection) => void | Promise<void>,
    opts?: { maxInboundStreams?: number },
  ): Promise<void>;
  dialProtocol(peer: PeerId, protocol: string, opts?: AbortOptions): Promise<Stream>;
}

/** Body chunks: big enough to keep per-chunk overhead (varint + yamux frame) far below 0.1 %. */
const CHUNK_BYTES = 256 * 1024;
// a request or header is a few dozen bytes; anything bigger on the control path is a protocol error
const MAX_CONTROL_BYTES = 1024;

async function send(
  stream: Stream,
  data: Uint8Array | ReturnType<typeof lp.encode.single>,
  signal: AbortSignal,
): Promise<void> {
  if (!stream.send(data)) await stream.onDrain({ signal });
}

/** Serves `/cotrain/blob/1.0.0` from `store`: header {status, size}, then the body in length-prefixed chunks. */
export async function handleBlobRequests(
  components: BlobComponents,
  store: BlobStore,
  opts: { maxBytes: number; timeoutMs: number },
  metrics: P2PMetrics | null,
): Promise<void> {
  await components.handle(
    BLOB_PROTOCOL,
    async (stream) => {
      const signal = AbortSignal.timeout(opts.timeoutMs);
      const onAbort = () => stream.abort(new BlobError("TIMEOUT", "blob response timed out"));
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        const first = await lp.decode(stream, { maxDataLength: MAX_CONTROL_BYTES })[Symbol.asyncIterator]().next();
        if (first.done) throw new BlobError("PROTOCOL", "no request");
        const req = BlobRequest.decode(first.value);
        const hex = bytesToHex(req.hash);
        const data = req.hash.byteLength === 32 ? await store.get(hex) : undefined;
        if (data === undefined) {
          await send(
            stream,
            lp.encode.single(BlobResponse.encode({ status: BlobResponse.Status.NOT_FOUND, size: 0 })),
            signal,
          );
        } else if (data.byteLength > Math.min(req.maxBytes, opts.maxBytes)) {
          await send(
            stream,
            lp.encode.single(BlobResponse.encode({ status: BlobResponse.Status.TOO_LARGE, size: data.byteLength })),
            signal,
          );
        } else {
          await send(
            stream,
            lp.encode.single(BlobResponse.encode({ status: BlobResponse.Status.OK, size: data.byteLength })),
            signal,
          );
          for (let off = 0; off < data.byteLength; off += CHUNK_BYTES) {
            await send(stream, lp.encode.single(data.subarray(off, off + CHUNK_BYTES)), signal);
          }
          metrics?.blobServedBytes.inc(data.byteLength);
        }
        await stream.close({ signal });
      } catch (err) {
        stream.abort(err as Error);
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    },
    // a peer fetches a handful of payloads at once per round; more parallel streams are abuse
    { maxInboundStreams: 16 },
  );
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
    stream = await components.dialProtocol(peer, BLOB_PROTOCOL, { signal });
  } catch (err) {
    throw signal.aborted ? new BlobError("TIMEOUT", `dial ${peer} timed out`) : err;
  }
  const onAbort = () =>
    stream.abort(new BlobError("TIMEOUT", `blob from ${peer} timed out after ${opts.timeoutMs} ms`));
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    await send(
      stream,
      lp.encode.single(BlobRequest.encode({ hash: new Uint8Array(hash), maxBytes: opts.maxBytes })),
      signal,
    );
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
        if (header.status === BlobResponse.Status.TOO_LARGE || header.size > opts.maxBytes) {
          throw new BlobError("TOO_LARGE", `blob is ${header.size} B, limit ${opts.maxBytes} B`);
        }
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
    if (signal.aborted && !(err instanceof BlobError && err.code !== "TIMEOUT")) {
      throw new BlobError("TIMEOUT", `blob from ${peer} timed out after ${opts.timeoutMs} ms`);
    }
    throw err;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
