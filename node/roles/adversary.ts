import { createHash, randomBytes, randomInt } from "node:crypto";
import { INLINE_PAYLOAD_LIMIT, type UpdateAnnouncement } from "../p2p/index.ts";
import { type CompressedTensor, chunkLayout, decodeUpdate, encodeUpdate } from "../sparseloco/index.ts";
import type { RunContext } from "./context.ts";
import type { UpdateInbox } from "./inbox.ts";
import { sleep } from "./timing.ts";

/**
 * Test-only misbehaviour of a peer (issue 9): what Templar's history shows cheaters and broken nodes
 * send. Enabled by the hidden node setting `adversary` (config file or COTRAIN_ADVERSARY; no CLI flag),
 * and only on a local dev chain: the process refuses to start anywhere else.
 *
 *   garbage    random bytes of the honest payload's length            → decode_error
 *   nan        the honest update with NaN/±Inf centroid tables          → decode_error (BAD_TABLE)
 *   norm1000   the honest update × 1000                                 → norm_out_of_bounds
 *   indices    an out-of-range (or repeated) chunk-local index          → decode_error
 *   copy       re-announce another peer's payload of this round         → copy
 *   replay     re-announce another peer's payload of an earlier round   → copy (replay of round r−k)
 *   wrongbase  the honest payload claiming another base model hash      → wrong_base_hash
 *   zero       every kept value zero                                     → no_gain
 *   noise      random indices and values with the honest update's norm  → no_gain
 *   flood      dozens of different announcements for one round          → EQUIVOCATION rejects, graylist
 */
export const ADVERSARY_MODES = [
  "garbage",
  "nan",
  "norm1000",
  "indices",
  "copy",
  "replay",
  "wrongbase",
  "zero",
  "noise",
  "flood",
] as const;
export type AdversaryMode = (typeof ADVERSARY_MODES)[number];

/** anvil / hardhat's chain id: the only chain an adversary may run on. */
export const DEV_CHAIN_ID = 31337;

/** Setting syntax: "rotate" (every mode, one per round) or a comma-separated list cycled by round. */
export const ADVERSARY_SETTING = new RegExp(
  `^(rotate|(${ADVERSARY_MODES.join("|")})(,(${ADVERSARY_MODES.join("|")}))*)$`,
);

export class AdversaryError extends Error {
  override name = "AdversaryError";
  readonly code = "ADVERSARY_FORBIDDEN";
}

/** The mode a setting picks for `round`. */
export function adversaryMode(setting: string, round: number): AdversaryMode {
  const list = setting === "rotate" ? ADVERSARY_MODES : (setting.split(",") as AdversaryMode[]);
  return list[round % list.length];
}

/** Refuses (throws) unless the node talks to a local dev chain; called once at start. */
export async function assertAdversaryAllowed(
  ctx: Pick<RunContext, "provider" | "deployment" | "logger" | "config">,
): Promise<void> {
  if (!ADVERSARY_SETTING.test(ctx.config.adversary ?? "")) {
    throw new AdversaryError(
      `adversary "${ctx.config.adversary}": want "rotate" or modes from ${ADVERSARY_MODES.join(", ")}`,
    );
  }
  const { chainId } = await ctx.provider.getNetwork();
  if (Number(chainId) !== DEV_CHAIN_ID || ctx.deployment.chainId !== DEV_CHAIN_ID) {
    throw new AdversaryError(
      `the adversary setting is for local test networks only (chain ${chainId}, want ${DEV_CHAIN_ID})`,
    );
  }
  ctx.logger.warn(
    { adversary: ctx.config.adversary },
    "ADVERSARY MODE: this node misbehaves on purpose (test networks only)",
  );
}

/** What the honest path built for this round, before publishing. */
export interface HonestUpdate {
  round: number;
  compressed: readonly CompressedTensor[];
  payload: Uint8Array;
  ann: Omit<UpdateAnnouncement, "runId" | "multiaddrs">;
}

type Announcement = HonestUpdate["ann"];

/**
 * Publishes this round's misbehaviour instead of the honest update. Returns the announcement the node
 * should treat as its own (so its outer step sees what the network saw), or null when it sent nothing.
 */
export async function publishAdversarial(
  ctx: RunContext,
  inbox: UpdateInbox,
  honest: HonestUpdate,
): Promise<Announcement | null> {
  const mode = adversaryMode(ctx.config.adversary ?? "rotate", honest.round);
  const r = honest.round;
  const log = (extra: Record<string, unknown>) =>
    ctx.logger.warn({ round: r, adversary: mode, ...extra }, "adversary published");
  const announce = async (payload: Uint8Array, base = honest.ann.baseModelHash): Promise<Announcement> => {
    const payloadHash = createHash("sha256").update(payload).digest();
    // Served like an honest payload: the store answers blob requests for it.
    await ctx.store.blobs.put(payload, { kind: "update", round: r, peer: ctx.address }, payloadHash.toString("hex"));
    const ann: Announcement = {
      ...honest.ann,
      baseModelHash: base,
      payloadHash,
      payloadBytes: payload.length,
      inlinePayload: payload.length <= INLINE_PAYLOAD_LIMIT / 4 ? new Uint8Array(payload) : undefined,
    };
    await ctx.p2p.publishUpdate(ann);
    return ann;
  };
  const mapTensors = (f: (t: CompressedTensor) => CompressedTensor) => encodeUpdate(honest.compressed.map(f));

  switch (mode) {
    case "garbage": {
      const ann = await announce(randomBytes(honest.payload.length));
      log({ bytes: honest.payload.length });
      return ann;
    }
    case "nan": {
      const ann = await announce(
        mapTensors((t) => ({
          ...t,
          table: Float32Array.from([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN]),
        })),
      );
      log({});
      return ann;
    }
    case "norm1000": {
      const ann = await announce(mapTensors((t) => ({ ...t, table: t.table.map((v) => v * 1000) })));
      log({ factor: 1000 });
      return ann;
    }
    case "indices": {
      let done = false;
      const ann = await announce(
        mapTensors((t) => {
          if (done) return t;
          done = true;
          const indices = t.indices.slice();
          const l = chunkLayout(t.shape, t.k, ctx.run.sparseloco.targetChunk);
          // 12-bit indices cannot exceed 4095: out of range needs a chunk smaller than 4096, else repeat one.
          indices[0] = l.chunkSize < 4096 ? 4095 : indices[1];
          return { ...t, indices };
        }),
      );
      log({});
      return ann;
    }
    case "copy":
    case "replay": {
      const victim = await findVictim(ctx, inbox, r, mode === "copy" ? 0 : 1, honest.ann);
      if (!victim) {
        log({ sent: false, why: "no other peer's announcement to reuse yet" });
        return null;
      }
      const ann = await announce(victim.bytes);
      log({
        victim: victim.address,
        victimRound: victim.round,
        payloadHash: Buffer.from(ann.payloadHash).toString("hex").slice(0, 16),
      });
      return ann;
    }
    case "wrongbase": {
      const ann = await announce(honest.payload, randomBytes(32));
      log({});
      return ann;
    }
    case "zero": {
      const ann = await announce(
        mapTensors((t) => ({ ...t, codes: new Uint8Array(t.codes.length), table: new Float32Array(4) })),
      );
      log({});
      return ann;
    }
    case "noise": {
      const ann = await announce(mapTensors((t) => noiseLike(t, ctx.run.sparseloco.targetChunk)));
      log({});
      return ann;
    }
    case "flood": {
      // The first different announcement each node sees wins; every later one is an equivocation.
      let first: Announcement | null = null;
      const count = 40;
      for (let i = 0; i < count; i++) {
        const ann = await announce(randomBytes(honest.payload.length));
        first ??= ann;
      }
      log({ count });
      return first;
    }
  }
}

/**
 * Another peer's announcement: of this round (`back` 0, waiting a little for one to arrive) or of the
 * most recent earlier round that has one (`back` 1).
 */
/**
 * Another peer's update to reuse: this round's (copy) or the newest earlier round's (replay). Only
 * payloads that decode are worth stealing: reusing the other adversary's garbage would test the
 * decoder, not copy/replay detection.
 */
async function findVictim(ctx: RunContext, inbox: UpdateInbox, round: number, back: number, own: Announcement) {
  const usable = async (r: number) => {
    for (const x of inbox.received(r)) {
      if (
        x.address === ctx.address ||
        Buffer.compare(Buffer.from(x.ann.payloadHash), Buffer.from(own.payloadHash)) === 0
      )
        continue;
      const bytes = await Promise.resolve(x.ann.inlinePayload ?? ctx.p2p.fetchPayload(x.ann, x)).catch(() => undefined);
      if (!bytes) continue;
      try {
        decodeUpdate(bytes, ctx.specs, ctx.run.sparseloco);
        return { ...x, bytes };
      } catch {}
    }
    return undefined;
  };
  if (back === 0) {
    const until = ctx.clock.submissionDeadline(round) - 1;
    for (;;) {
      const found = await usable(round);
      if (found || ctx.clock.now() >= until) return found;
      await sleep(200);
    }
  }
  for (let r = round - back; r >= Math.max(0, round - 8); r--) {
    const found = await usable(r);
    if (found) return found;
  }
  return undefined;
}

/** Random chunk-local indices (distinct, ascending) and codes; tables scaled to the honest tensor's norm. */
function noiseLike(t: CompressedTensor, targetChunk: number): CompressedTensor {
  const l = chunkLayout(t.shape, t.k, targetChunk);
  const n = t.indices.length;
  let honestSq = 0;
  for (let j = 0; j < n; j++) honestSq += t.table[t.codes[j]] ** 2;
  const indices = new Uint16Array(n);
  const codes = new Uint8Array(n);
  const pool = Uint16Array.from({ length: l.chunkSize }, (_, i) => i);
  for (let c = 0; c < n / t.k; c++) {
    // partial Fisher-Yates: the first k of a shuffled 0..chunkSize-1
    for (let i = 0; i < t.k; i++) {
      const j = i + randomInt(l.chunkSize - i);
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    const chosen = pool.slice(0, t.k).sort();
    indices.set(chosen, c * t.k);
  }
  let unitSq = 0;
  const unit = [-1, -1 / 3, 1 / 3, 1];
  for (let j = 0; j < n; j++) {
    codes[j] = randomInt(4);
    unitSq += unit[codes[j]] ** 2;
  }
  const s = unitSq > 0 ? Math.sqrt(honestSq / unitSq) : 0;
  return { ...t, indices, codes, table: Float32Array.from(unit, (u) => u * s) };
}
