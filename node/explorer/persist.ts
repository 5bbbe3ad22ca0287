import type { CursorStore } from "../chain/index.ts";
import { Store } from "../store/index.ts";
import type { IndexedEvent } from "./model.ts";

/**
 * Key prefixes inside the explorer's own LevelDB. Not in node/store's Bucket enum (that file belongs
 * to the store); 0x40/0x41 are unused there, and the explorer's database holds nothing else but its
 * cursor (bucket 0x30).
 */
const EVENTS = 0x40; // ++ contract (20 bytes) ++ block (u64 BE) ++ logIndex (u32 BE) -> event JSON
const IDENTITY = 0x41; // ++ contract -> identity string (chain id + deployment block hash)

/** The indexed events and the cursor, persisted so a restart neither re-reads the chain nor forgets it. */
export interface EventLog {
  cursor: CursorStore;
  /** True when events stored for another chain identity were dropped at open. */
  reset: boolean;
  load(): Promise<IndexedEvent[]>;
  append(ev: IndexedEvent): Promise<void>;
  close(): Promise<void>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

// Event args hold bigints (amounts, stakes); JSON gets them as tagged strings.
const replacer = (_k: string, v: unknown) => (typeof v === "bigint" ? { $bigint: v.toString() } : v);
const reviver = (_k: string, v: unknown) =>
  v !== null && typeof v === "object" && "$bigint" in v ? BigInt((v as { $bigint: string }).$bigint) : v;

/**
 * LevelDB-backed log in `dataDir` (the explorer's own directory: LevelDB allows one process per
 * database, so it must not be a running peer's or validator's). Keys are (block, logIndex), so a batch
 * replayed after a crash overwrites itself instead of duplicating; the indexer saves the cursor only
 * after a batch's events are written.
 *
 * `identity` (chain id + hash of the deployment block) guards against a fresh dev chain that reuses
 * the same contract address: on a mismatch the stale events are dropped and the cursor, which is
 * named by identity, starts empty.
 */
export async function openEventLog(dataDir: string, contract: string, identity: string): Promise<EventLog> {
  const store = await Store.open({ dataDir });
  const addr = Uint8Array.from(Buffer.from(contract.slice(2).toLowerCase(), "hex"));
  const prefix = Uint8Array.from([EVENTS, ...addr]);
  const range = { gte: prefix, lt: Uint8Array.from([EVENTS, ...addr, ...new Uint8Array(12).fill(0xff)]) };
  const identityKey = Uint8Array.from([IDENTITY, ...addr]);
  let reset = false;
  try {
    const stored = await store.db.get(identityKey);
    if (!stored || dec.decode(stored) !== identity) {
      reset = stored !== undefined;
      await store.db.clear(range);
      await store.db.put(identityKey, enc.encode(identity));
    }
  } catch (err) {
    await store.close();
    throw err;
  }
  return {
    cursor: store.cursor(`explorer:${contract.toLowerCase()}:${identity}`),
    reset,
    async load() {
      const out: IndexedEvent[] = [];
      for await (const [, v] of store.db.entries(range)) out.push(JSON.parse(dec.decode(v), reviver) as IndexedEvent);
      return out;
    },
    async append(ev) {
      const k = new Uint8Array(prefix.length + 12);
      k.set(prefix);
      const view = new DataView(k.buffer);
      view.setBigUint64(prefix.length, BigInt(ev.blockNumber), false);
      view.setUint32(prefix.length + 8, ev.logIndex, false);
      await store.db.put(k, enc.encode(JSON.stringify(ev, replacer)));
    },
    close: () => store.close(),
  };
}
