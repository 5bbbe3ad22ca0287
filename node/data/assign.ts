import { AbiCoder, getBytes, id, isHexString, keccak256 } from "ethers";
import { Xoshiro128 } from "../model/params.ts";
import type { TokenBatch } from "../train/types.ts";
import type { Dataset } from "./dataset.ts";
import { DataError } from "./errors.ts";

/** A training window: tokens[offset .. offset+seqLen] of the main dataset's training split or of a replay one. */
export interface SampleRef {
  readonly source: "main" | "replay";
  readonly offset: number;
  /** Which replay dataset (index into the request's list, earliest stage first); absent: the first. */
  readonly from?: number;
}

/** The most replay datasets one assignment draws from (the digest gives each a byte: 1 + index). */
export const MAX_REPLAY_DATASETS = 254;

export interface AssignRequest {
  /** bytes32 hex, or any other string (then keccak256(utf8(runId)) stands for it). */
  readonly runId: string;
  readonly round: number | bigint;
  /** The peer's Ethereum address. */
  readonly address: string;
  /** Samples to pick: H x batch. */
  readonly count: number;
  readonly seqLen: number;
  /** Batch size, so replay slots sit at the end of every batch (default: count = one batch). */
  readonly batchSize?: number;
  /**
   * Continual pre-training replay: in every batch, round(fraction*batchSize) samples come from earlier
   * stages' datasets, which curbs forgetting (Ibrahim et al. 2024). With several datasets each replay
   * sample first draws which one (uniformly: every earlier stage gets an equal share), then its window.
   */
  readonly replay?: { readonly dataset: Dataset | readonly Dataset[]; readonly fraction: number };
}

export interface Assignment {
  readonly samples: SampleRef[];
  /**
   * keccak256 over (source byte, uint64 BE offset) per sample, in order: announced with the update. The
   * source byte is 0 for the main dataset and 1 + i for replay dataset i (so one replay dataset is 1).
   */
  readonly dataDigest: string;
  /** The PRNG seed: keccak256(abi.encode(bytes32 runId, uint256 round, address peer)). */
  readonly seed: string;
}

export function runIdBytes32(runId: string): string {
  return isHexString(runId, 32) ? runId : id(runId);
}

export function assignmentSeed(runId: string, round: number | bigint, address: string): string {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(["bytes32", "uint256", "address"], [runIdBytes32(runId), round, address]),
  );
}

/**
 * Deterministic per-(run, round, peer) sample choice from the training split: any validator recomputes
 * the same list from public values (DESIGN.md "Data"), so it can score the peer on its own assignment.
 * Offsets are uniform over all windows that fit (with replacement: the corpus is small).
 */
export function assignSamples(req: AssignRequest, dataset: Dataset): Assignment {
  if (!(Number.isInteger(req.count) && req.count > 0 && Number.isInteger(req.seqLen) && req.seqLen > 0)) {
    throw new DataError("BAD_REQUEST", "count and seqLen must be positive integers");
  }
  const seed = assignmentSeed(req.runId, req.round, req.address);
  const rng = new Xoshiro128(getBytes(seed));
  const batch = req.batchSize ?? req.count;
  const frac = req.replay?.fraction ?? 0;
  if (frac < 0 || frac > 1) throw new DataError("BAD_REQUEST", "replay fraction must be in [0, 1]");
  const nReplay = Math.round(frac * batch);
  const mainWindows = windows(dataset.train.length, req.seqLen);
  const replaySets = replayList(req.replay?.dataset);
  if (req.replay && nReplay > 0 && replaySets.length === 0)
    throw new DataError("BAD_REQUEST", "replay fraction > 0 but no replay dataset");
  const replayWindows = replaySets.map((d) => windows(d.train.length, req.seqLen));
  const samples: SampleRef[] = [];
  for (let i = 0; i < req.count; i++) {
    const replay = req.replay !== undefined && i % batch >= batch - nReplay;
    if (!replay) samples.push({ source: "main", offset: rng.nextInt(mainWindows) });
    else if (replaySets.length === 1) samples.push({ source: "replay", offset: rng.nextInt(replayWindows[0]) });
    else {
      const from = rng.nextInt(replaySets.length);
      samples.push({ source: "replay", from, offset: rng.nextInt(replayWindows[from]) });
    }
  }
  return { samples, dataDigest: sampleDigest(samples), seed };
}

/**
 * The validator's scoring windows (issue 16): `count` windows of the *training* split, chosen by a seed
 * nobody knows before the submission deadline, none overlapping a window in `assigned` (the round's
 * assignments of every update's author). The public held-out split is small enough to train on in
 * advance (Brown's: 296k tokens, 25 documents), which inflated a peer's held-out gain; the training
 * split is the data every peer trains on anyway, and the windows nobody was assigned this round are as
 * unseen as a held-out split for this round's updates (Templar's validators likewise score on pages
 * the miner was not given). When the assignments cover so much of a small corpus that `maxTries` draws find no free
 * window, the last draw is kept and counted in `overlapping`.
 */
export function scoringWindows(
  dataset: Dataset,
  seed: string,
  count: number,
  seqLen: number,
  assigned: readonly number[],
  maxTries = 64,
): { offsets: number[]; overlapping: number } {
  const rng = Xoshiro128.fromString(`cotrain/scoring/${seed}`);
  const n = windows(dataset.train.length, seqLen);
  const sorted = Float64Array.from(assigned).sort();
  // windows [o, o + seqLen] and [a, a + seqLen] share a token iff |o − a| ≤ seqLen
  const free = (o: number) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid] < o - seqLen) lo = mid + 1;
      else hi = mid;
    }
    return lo === sorted.length || sorted[lo] > o + seqLen;
  };
  const offsets: number[] = [];
  let overlapping = 0;
  for (let i = 0; i < count; i++) {
    let o = rng.nextInt(n);
    for (let t = 1; t < maxTries && !free(o); t++) o = rng.nextInt(n);
    if (!free(o)) overlapping++;
    offsets.push(o);
  }
  return { offsets, overlapping };
}

/** Held-out windows chosen by a seed the peer could not know in advance (e.g. a later block hash). */
export function heldoutSamples(dataset: Dataset, seed: string, count: number, seqLen: number): number[] {
  const rng = Xoshiro128.fromString(`cotrain/heldout/${seed}`);
  const n = windows(dataset.heldout.length, seqLen);
  return Array.from({ length: count }, () => rng.nextInt(n));
}

export function sampleDigest(samples: readonly SampleRef[]): string {
  const buf = new Uint8Array(samples.length * 9);
  const dv = new DataView(buf.buffer);
  samples.forEach((s, i) => {
    buf[i * 9] = s.source === "main" ? 0 : 1 + (s.from ?? 0);
    dv.setBigUint64(i * 9 + 1, BigInt(s.offset), false);
  });
  return keccak256(buf);
}

function replayList(d: Dataset | readonly Dataset[] | undefined): readonly Dataset[] {
  const list = d === undefined ? [] : Array.isArray(d) ? (d as readonly Dataset[]) : [d as Dataset];
  if (list.length > MAX_REPLAY_DATASETS)
    throw new DataError("BAD_REQUEST", `${list.length} replay datasets, at most ${MAX_REPLAY_DATASETS}`);
  return list;
}

function windows(tokens: number, seqLen: number): number {
  const n = tokens - seqLen; // a window needs seqLen+1 tokens (inputs + shifted targets)
  if (n <= 0) throw new DataError("BAD_REQUEST", `split of ${tokens} tokens is shorter than one window`);
  return n;
}

/** Packs windows into TokenBatches of `batchSize` rows (the last may be smaller). */
export function makeBatches(
  tokens: Uint16Array,
  offsets: readonly number[],
  batchSize: number,
  seqLen: number,
): TokenBatch[] {
  return packBatches(
    offsets.map((o) => [tokens, o] as const),
    batchSize,
    seqLen,
  );
}

/** TokenBatches for an assignment, resolving replay samples against the replay dataset(s). */
export function assignmentBatches(
  a: Assignment,
  dataset: Dataset,
  batchSize: number,
  seqLen: number,
  replay?: Dataset | readonly Dataset[],
): TokenBatch[] {
  const sets = replayList(replay);
  return packBatches(
    a.samples.map((s) => {
      if (s.source === "main") return [dataset.train, s.offset] as const;
      const d = sets[s.from ?? 0];
      if (!d) throw new DataError("BAD_REQUEST", `assignment has a sample of replay dataset ${s.from ?? 0}, not given`);
      return [d.train, s.offset] as const;
    }),
    batchSize,
    seqLen,
  );
}

function packBatches(
  rows: ReadonlyArray<readonly [Uint16Array, number]>,
  batchSize: number,
  seqLen: number,
): TokenBatch[] {
  const out: TokenBatch[] = [];
  for (let s = 0; s < rows.length; s += batchSize) {
    const part = rows.slice(s, s + batchSize);
    const inputs = new Int32Array(part.length * seqLen);
    const targets = new Int32Array(part.length * seqLen);
    part.forEach(([toks, o], r) => {
      if (o < 0 || o + seqLen + 1 > toks.length) throw new DataError("BAD_REQUEST", `window at ${o} out of range`);
      for (let t = 0; t < seqLen; t++) {
        inputs[r * seqLen + t] = toks[o + t];
        targets[r * seqLen + t] = toks[o + t + 1];
      }
    });
    out.push({ batch: part.length, seqLen, inputs, targets });
  }
  return out;
}
