import { Bucket } from "./buckets.ts";
import type { BatchOp, Db } from "./db.ts";
import { StoreError } from "./errors.ts";
import { type Hash32, bytesToHex, hash32Bytes, parseHash32, sha256 } from "../hash/index.ts";
import { bucketRange, json, key, readJson, readU32, u32 } from "./codec.ts";

export type BlobKind = "update" | "checkpoint";

/** What a blob is for; kept next to the bytes so pruning and replay need no other index. */
export interface BlobTag {
  kind: BlobKind;
  /** The round the blob belongs to (an update's round; the round a checkpoint is the start of). */
  round: number;
  /** Announcer address for updates. */
  peer?: string;
  /** Other blobs this one needs (e.g. checkpoint shards); kept as long as this blob is kept. */
  refs?: string[];
}

export interface BlobMeta extends BlobTag {
  hash: string;
  bytes: number;
  /** Chunk size in Bucket.blobChunks; absent for a blob stored whole in Bucket.blobData (older versions). */
  chunkBytes?: number;
}

/** A stored blob as the p2p blob server reads it: its size, then its bytes one chunk at a time. */
export interface BlobReader {
  size: number;
  chunks(): AsyncIterable<Uint8Array>;
}

/**
 * Blobs are stored in chunks of this size, so that serving one to a slow reader holds one chunk, not
 * the whole blob (a `base` checkpoint is 344 MB; LevelDB reads a value whole). 256 KiB is also the blob
 * protocol's frame size.
 */
export const BLOB_CHUNK_BYTES = 256 * 1024;

function chunkKey(hash: Uint8Array, index: number): Uint8Array {
  return key(Bucket.blobChunks, hash, u32(index));
}

function chunkCount(meta: BlobMeta): number {
  return meta.chunkBytes === undefined ? 0 : Math.ceil(meta.bytes / meta.chunkBytes);
}

function hashBytes(hash: string): Uint8Array {
  return hash32Bytes(parseHash32(hash, "blob hash"));
}

/**
 * Content-addressed blobs (update payloads, checkpoints) keyed by sha256, with an index
 * round -> hashes so that replay finds a round's updates and pruning finds old rounds without a scan.
 */
export class BlobRepository {
  constructor(private readonly db: Db) {}

  /** Batch ops storing `bytes` under its sha256; returns the hash too. */
  putOps(bytes: Uint8Array, tag: BlobTag, expectedHash?: string): { hash: Hash32; ops: BatchOp[] } {
    const hash = sha256(bytes);
    if (expectedHash !== undefined && parseHash32(expectedHash, "expected blob hash") !== hash) {
      throw new StoreError("BLOB_HASH_MISMATCH", `blob hashes to ${hash}, expected ${expectedHash}`);
    }
    const h = hashBytes(hash);
    const meta: BlobMeta = { ...tag, hash, bytes: bytes.length, chunkBytes: BLOB_CHUNK_BYTES };
    const ops: BatchOp[] = [];
    for (let i = 0, off = 0; off < bytes.length; i++, off += BLOB_CHUNK_BYTES) {
      ops.push({ type: "put", key: chunkKey(h, i), value: bytes.subarray(off, off + BLOB_CHUNK_BYTES) });
    }
    ops.push(
      { type: "put", key: key(Bucket.blobMeta, h), value: json(meta) },
      { type: "put", key: key(Bucket.blobRoundIndex, u32(tag.round), h), value: new Uint8Array(0) },
    );
    return { hash, ops };
  }

  /** Stores a blob atomically (data, meta, index); `expectedHash` guards bytes fetched from the network. */
  async put(bytes: Uint8Array, tag: BlobTag, expectedHash?: string): Promise<Hash32> {
    const { hash, ops } = this.putOps(bytes, tag, expectedHash);
    await this.db.batch(ops);
    return hash;
  }

  async get(hash: string): Promise<Uint8Array | undefined> {
    const h = hashBytes(hash);
    const meta = await this.meta(hash);
    if (meta?.chunkBytes === undefined) return this.db.get(key(Bucket.blobData, h));
    const out = new Uint8Array(meta.bytes);
    let off = 0;
    for await (const [, chunk] of this.db.entries({ gte: chunkKey(h, 0), lt: chunkKey(h, chunkCount(meta)) })) {
      if (off + chunk.length > out.length) break;
      out.set(chunk, off);
      off += chunk.length;
    }
    if (off !== meta.bytes) return this.missingChunks(hash, off);
    return out;
  }

  /**
   * The blob's size and a reader that loads one chunk at a time (the p2p blob server streams from it),
   * or undefined. A blob stored whole by an older version comes back as one chunk.
   */
  async open(hash: string): Promise<BlobReader | undefined> {
    const h = hashBytes(hash);
    const meta = await this.meta(hash);
    if (meta === undefined) return undefined;
    if (meta.chunkBytes === undefined) {
      const whole = await this.db.get(key(Bucket.blobData, h));
      if (whole === undefined) return undefined;
      return {
        size: whole.length,
        chunks: async function* () {
          yield whole;
        },
      };
    }
    const { db } = this;
    const n = chunkCount(meta);
    const missing = (off: number) => this.missingChunks(hash, off);
    return {
      size: meta.bytes,
      chunks: async function* () {
        let off = 0;
        for (let i = 0; i < n; i++) {
          const chunk = await db.get(chunkKey(h, i));
          if (chunk === undefined) {
            await missing(off);
            throw new StoreError("CORRUPT_RECORD", `blob ${hash} was pruned while being read`);
          }
          off += chunk.length;
          yield chunk;
        }
      },
    };
  }

  /** A chunk is gone: pruned between the meta read and the chunk read (undefined), else corruption. */
  private async missingChunks(hash: string, got: number): Promise<undefined> {
    const meta = await this.meta(hash);
    if (meta === undefined) return undefined;
    throw new StoreError("CORRUPT_RECORD", `blob ${hash}: ${got} of ${meta.bytes} bytes in its chunks`);
  }

  async has(hash: string): Promise<boolean> {
    return (await this.db.get(key(Bucket.blobMeta, hashBytes(hash)))) !== undefined;
  }

  async meta(hash: string): Promise<BlobMeta | undefined> {
    const v = await this.db.get(key(Bucket.blobMeta, hashBytes(hash)));
    return v && readJson<BlobMeta>(v, `blob meta ${hash}`);
  }

  /** Metas of the blobs tagged with `round`, optionally of one kind, in hash order. */
  async listRound(round: number, kind?: BlobKind): Promise<BlobMeta[]> {
    const prefix = key(Bucket.blobRoundIndex, u32(round));
    const hashes: Uint8Array[] = [];
    const lt =
      round === 0xffffffff ? bucketRange(Bucket.blobRoundIndex).lt : key(Bucket.blobRoundIndex, u32(round + 1));
    for await (const k of this.db.keys({ gte: prefix, lt })) hashes.push(k.subarray(5));
    const metas = await this.db.getMany(hashes.map((h) => key(Bucket.blobMeta, h)));
    const out: BlobMeta[] = [];
    for (const m of metas) {
      if (!m) continue;
      const meta = readJson<BlobMeta>(m, "blob meta");
      if (kind === undefined || meta.kind === kind) out.push(meta);
    }
    return out;
  }

  /**
   * The `{get, put(hash, data)}` view the p2p blob protocol serves from and stores fetched payloads
   * into (structurally node/p2p's BlobStore). `tagFor` says what a fetched hash is (the role knows it
   * from the announcement); put verifies the bytes against the hash before storing.
   */
  p2pView(tagFor: (hash: string) => BlobTag): {
    get(hash: string): Promise<Uint8Array | undefined>;
    open(hash: string): Promise<BlobReader | undefined>;
    put(hash: string, data: Uint8Array): Promise<void>;
  } {
    return {
      get: (hash) => this.get(hash),
      open: (hash) => this.open(hash),
      put: async (hash, data) => {
        await this.put(data, tagFor(hash), hash);
      },
    };
  }

  /** The checkpoint with the highest round, if any. */
  async newestCheckpoint(): Promise<BlobMeta | undefined> {
    for await (const k of this.db.keys({ ...bucketRange(Bucket.blobRoundIndex), reverse: true })) {
      const m = await this.meta(bytesToHex(k.subarray(5)));
      if (m?.kind === "checkpoint") return m;
    }
    return undefined;
  }

  /**
   * Retention: delete blobs tagged with a round < currentRound - keep, except
   *  - the newest checkpoint and every blob it references (a joining peer starts there), and
   *  - updates at or after the newest checkpoint's round (it replays them to reach the chain's hash).
   * One batch, so a crash mid-prune leaves either all or none of a blob's three keys.
   * Returns the number of blobs deleted.
   */
  async prune(currentRound: number, keep: number): Promise<number> {
    const cutoff = currentRound - keep;
    if (cutoff <= 0) return 0;
    const newest = await this.newestCheckpoint();
    const pinned = new Set<string>();
    if (newest) {
      pinned.add(newest.hash);
      for (const r of newest.refs ?? []) pinned.add(r);
    }
    const updateCutoff = newest ? Math.min(cutoff, newest.round) : cutoff;
    const ops: BatchOp[] = [];
    let deleted = 0;
    for await (const k of this.db.keys({
      gte: key(Bucket.blobRoundIndex, u32(0)),
      lt: key(Bucket.blobRoundIndex, u32(cutoff)),
    })) {
      const round = readU32(k, 1);
      const h = k.subarray(5);
      const hex = bytesToHex(h);
      if (pinned.has(hex)) continue;
      const meta = await this.meta(hex);
      if (!meta || meta.round !== round) {
        // The same bytes were stored again under another round: only this index entry is stale.
        ops.push({ type: "del", key: k.slice() });
        continue;
      }
      if (meta.kind === "update" && round >= updateCutoff) continue;
      ops.push({ type: "del", key: k.slice() });
      ops.push({ type: "del", key: key(Bucket.blobData, h) });
      for (let i = 0; i < chunkCount(meta); i++) ops.push({ type: "del", key: chunkKey(h, i) });
      ops.push({ type: "del", key: key(Bucket.blobMeta, h) });
      deleted++;
    }
    await this.db.batch(ops);
    return deleted;
  }
}
