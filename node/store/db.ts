import { mkdir } from "node:fs/promises";
import { Level } from "level";
import { StoreError } from "./errors.ts";

/** One write in an atomic batch; keys and values are raw bytes. */
export type BatchOp = { type: "put"; key: Uint8Array; value: Uint8Array } | { type: "del"; key: Uint8Array };

export interface RangeOptions {
  gte?: Uint8Array;
  gt?: Uint8Array;
  lt?: Uint8Array;
  lte?: Uint8Array;
  reverse?: boolean;
  limit?: number;
}

type RawLevel = Level<Uint8Array, Uint8Array>;

/**
 * The one LevelDB handle of a process (Lodestar's `LevelDbController`): binary keys and values,
 * repositories add their own one-byte bucket prefix. Everything a crash must not split goes through
 * `batch`, which LevelDB applies atomically (one write-ahead-log record).
 */
export class Db {
  private constructor(
    private readonly level: RawLevel,
    readonly location: string,
  ) {}

  static async open(location: string): Promise<Db> {
    await mkdir(location, { recursive: true });
    const level: RawLevel = new Level<Uint8Array, Uint8Array>(location, { keyEncoding: "view", valueEncoding: "view" });
    try {
      await level.open();
    } catch (err) {
      if (isLocked(err)) {
        throw new StoreError(
          "DB_LOCKED",
          `database already in use by another process: ${location} (stop the other cotrain process or use another --data-dir)`,
          { cause: err },
        );
      }
      throw new StoreError("DB_OPEN_FAILED", `cannot open database at ${location}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return new Db(level, location);
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return plain(await this.level.get(key));
  }

  async getMany(keys: Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    return (await this.level.getMany(keys)).map(plain);
  }

  async put(key: Uint8Array, value: Uint8Array, sync = false): Promise<void> {
    await this.level.put(key, value, { sync });
  }

  async del(key: Uint8Array): Promise<void> {
    await this.level.del(key);
  }

  /** Applies all operations or none (LevelDB WriteBatch). */
  async batch(ops: BatchOp[], sync = false): Promise<void> {
    if (ops.length === 0) return;
    await this.level.batch(ops, { sync });
  }

  async *entries(range: RangeOptions): AsyncGenerator<[Uint8Array, Uint8Array]> {
    for await (const [k, v] of this.level.iterator(range)) yield [plain(k)!, plain(v)!];
  }

  async *keys(range: RangeOptions): AsyncGenerator<Uint8Array> {
    for await (const k of this.level.keys(range)) yield plain(k)!;
  }

  async clear(range: RangeOptions): Promise<void> {
    await this.level.clear(range);
  }

  async close(): Promise<void> {
    await this.level.close();
  }
}

/** abstract-level wraps the binding's LEVEL_LOCKED in LEVEL_DATABASE_NOT_OPEN; look through `cause`. */
function isLocked(err: unknown): boolean {
  for (let e = err as { code?: string; cause?: unknown } | undefined, i = 0; e && i < 5; e = e.cause as typeof e, i++) {
    if (e.code === "LEVEL_LOCKED") return true;
  }
  return false;
}

/** classic-level hands out Buffers; repositories and callers get plain Uint8Array views (no copy). */
function plain(v: Uint8Array | undefined | null): Uint8Array | undefined {
  if (v == null) return undefined;
  return v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}
