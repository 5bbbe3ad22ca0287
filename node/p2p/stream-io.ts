import type { Stream } from "@libp2p/interface";
import * as lp from "it-length-prefixed";
import type { Uint8ArrayList } from "uint8arraylist";
import { BlobError } from "./errors.ts";

/** Bytes a writer may leave queued in a stream before it waits: one blob frame and its prefix. */
export const WRITE_HIGH_WATER = 512 * 1024;

/**
 * Sends and then waits until the stream's write buffer is below `WRITE_HIGH_WATER`. Not
 * `if (!stream.send(x)) await stream.onDrain()`: @libp2p/utils 7.4.1 never clears its resolved drain
 * promise, so after a stream's first drain onDrain() returns at once and a writer facing a slow reader
 * queues everything it has (measured: a sync responder queued 1.1 GB in one stream's write buffer).
 */
export async function send(stream: Stream, data: Uint8Array | Uint8ArrayList, signal: AbortSignal): Promise<void> {
  stream.send(data);
  while (stream.writeBufferLength > WRITE_HIGH_WATER) {
    if (stream.writeStatus !== "writable") throw new BlobError("PROTOCOL", `stream is ${stream.writeStatus}`);
    signal.throwIfAborted();
    await new Promise<void>((resolve) => {
      const done = () => {
        for (const e of ["drain", "idle", "close"] as const) stream.removeEventListener(e, done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      // drain: a window update arrived; idle: the buffer emptied; close/abort: nothing more will move
      for (const e of ["drain", "idle", "close"] as const) stream.addEventListener(e, done);
      signal.addEventListener("abort", done);
    });
  }
}

/** `send` of one length-prefixed message. */
export function sendLp(stream: Stream, message: Uint8Array, signal: AbortSignal): Promise<void> {
  return send(stream, lp.encode.single(message), signal);
}

/**
 * Reads the one length-prefixed request of a stream and stops listening: an iterator left suspended
 * would keep queueing whatever else the requester sends, without bound. Later bytes stay in the
 * stream's own buffer, which libp2p caps (it resets the stream beyond 4 MiB).
 */
export async function readRequest(stream: Stream, maxBytes: number): Promise<Uint8Array> {
  const it = lp.decode(stream, { maxDataLength: maxBytes })[Symbol.asyncIterator]();
  try {
    const first = await it.next();
    if (first.done) throw new BlobError("PROTOCOL", "no request");
    return first.value.subarray();
  } finally {
    await it.return?.();
  }
}

/**
 * Aborts `stream` once more than `maxBytes` have arrived on it, counted as they arrive rather than as
 * they are consumed: libp2p queues incoming data for an async-iterating reader without limit, so a sender
 * faster than our processing would otherwise fill memory however carefully the reader counts.
 * Returns the function that stops counting.
 */
export function capIncoming(stream: Stream, maxBytes: number, onExceeded: () => void): () => void {
  let received = 0;
  const onMessage = (evt: Event) => {
    received += (evt as Event & { data: { byteLength: number } }).data.byteLength;
    if (received > maxBytes) {
      stream.removeEventListener("message", onMessage);
      onExceeded();
      stream.abort(new BlobError("TOO_LARGE", `peer sent more than ${maxBytes} B`));
    }
  };
  stream.addEventListener("message", onMessage);
  return () => stream.removeEventListener("message", onMessage);
}
