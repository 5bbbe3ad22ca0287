import { type CompressedTensor, layoutFromGrid } from "./compress.ts";
import { type SparseUpdate, compareNames } from "./codec.ts";
import { SparseLocoError } from "./errors.ts";
import { type ChunkLayout, chunkBase, chunkLayout, localOffsets, sameDims } from "./layout.ts";
import { lowerMedian } from "./median.ts";
import { type SparseLocoOptions, defaultSparseLocoOptions } from "./options.ts";
import type { ParamMap, TensorSpec } from "./types.ts";

/**
 * Aggregation input: each gathered peer's decoded update keyed by a stable peer key (the node uses the
 * peer's Ethereum address). Keys fix the summation order, so every node must use the same key scheme.
 */
export type UpdatesByPeer = ReadonlyMap<string, SparseUpdate>;

/** L2 norm of the decoded tensor: sqrt(sum_b count_b * table[b]^2), in float64. */
export function decodedNorm(t: CompressedTensor): number {
  let n0 = 0;
  let n1 = 0;
  let n2 = 0;
  let n3 = 0;
  const codes = t.codes;
  for (let j = 0; j < codes.length; j++) {
    const c = codes[j];
    if (c === 0) n0++;
    else if (c === 1) n1++;
    else if (c === 2) n2++;
    else n3++;
  }
  const [a, b, c, d] = t.table;
  return Math.sqrt(n0 * a * a + n1 * b * b + n2 * c * c + n3 * d * d);
}

/** Per-tensor decoded norms of one update (what the clip compares; also a validator score input). */
export function decodedNorms(update: SparseUpdate): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, t] of update) out.set(name, decodedNorm(t));
  return out;
}

/**
 * The coordinates an update chose, as flat row-major indices into each tensor, ascending (for copy
 * detection by index overlap between peers' updates).
 */
export function selectedCoordinates(update: SparseUpdate, specs: readonly TensorSpec[]): Map<string, Uint32Array> {
  const out = new Map<string, Uint32Array>();
  for (const spec of specs) {
    const t = update.get(spec.name);
    if (t === undefined) continue;
    const l = layoutFromGrid(spec, t);
    const off = localOffsets(l);
    const flat = new Uint32Array(t.indices.length);
    let j = 0;
    for (let c = 0; c < l.numChunks; c++) {
      const base = chunkBase(l, c);
      const end = j + t.k;
      for (; j < end; j++) flat[j] = base + off[t.indices[j]];
    }
    out.set(spec.name, flat.sort());
  }
  return out;
}

// Chunk-local accumulators (<= 4096 values each), reused: the scatter stays in L1 instead of missing
// cache on every value of a model-sized buffer (measured ~10x faster, docs/sparseloco.md).
let sumL = new Float64Array(4096);
let cntL = new Uint32Array(4096);

function indicesInRange(indices: Uint16Array, chunkSize: number): boolean {
  let max = 0;
  for (let j = 0; j < indices.length; j++) max = Math.max(max, indices[j]);
  return max < chunkSize;
}

function finiteTable(t: CompressedTensor): boolean {
  for (let b = 0; b < 4; b++) if (!Number.isFinite(t.table[b])) return false;
  return true;
}

/**
 * How the clipped values of one coordinate are reduced: "chosen" = mean over the peers that chose it
 * (Templar / CCLoco scatter_reduce "mean", the default); "all" = sum over the gathered peers with the tensor,
 * divided by their number: the paper's Δ = (1/R)·ΣΔ̂_r, an unbiased estimate of the dense mean.
 */
export type AggregateReduce = "chosen" | "all";

export interface AggregateOptions extends Pick<SparseLocoOptions, "topk" | "targetChunk"> {
  reduce: AggregateReduce;
}

/**
 * SparseLoCo step 5 (DESIGN.md; Templar `outer_step`, covenant-facts §1), per tensor:
 * n_i = ||decode v_i||; v_i <- v_i * min(1, median(n) / (n_i + 1e-8)) (median = torch.median, the lower
 * middle value); then, per coordinate, the mean over the peers that chose it (scatter_reduce "mean",
 * include_self=False). Peers are visited in code-unit order of their keys and sums are float64, so the
 * result is bit-identical whatever the input order. A peer's tensor that is missing, non-finite, or not
 * in the run's chunk layout (`opts`, the run's topk/targetChunk) is left out for that peer. Returns a
 * dense Float32Array per spec (zeros where no peer chose the coordinate).
 */
export function aggregate(
  updatesByPeer: UpdatesByPeer,
  specs: readonly TensorSpec[],
  opts?: Partial<AggregateOptions>,
): ParamMap {
  const topk = opts?.topk ?? defaultSparseLocoOptions.topk;
  const reduce = opts?.reduce ?? "chosen";
  const target = opts?.targetChunk ?? defaultSparseLocoOptions.targetChunk;
  const peers = [...updatesByPeer.keys()].sort(compareNames);
  const out: ParamMap = new Map();
  for (const spec of specs) {
    const l = chunkLayout(spec.shape, topk, target);
    const parts: CompressedTensor[] = [];
    const norms: number[] = [];
    for (const p of peers) {
      const t = updatesByPeer.get(p)!.get(spec.name);
      if (t === undefined || !finiteTable(t) || t.k !== l.k || !sameDims(t.chunkGrid, l.grid)) continue;
      if (t.indices.length !== l.numChunks * l.k || t.codes.length !== t.indices.length) continue;
      if (!indicesInRange(t.indices, l.chunkSize)) continue; // not from decodeUpdate: never index out of a chunk
      const n = decodedNorm(t);
      if (!Number.isFinite(n)) continue;
      parts.push(t);
      norms.push(n);
    }
    const result = new Float32Array(l.numel);
    out.set(spec.name, result);
    if (parts.length === 0) continue;
    const median = lowerMedian(norms);
    // Clipped centroids per peer, in float32 as Templar scales the dequantized fp32 tensor.
    const tabs = new Float32Array(4 * parts.length);
    for (let i = 0; i < parts.length; i++) {
      const factor = Math.min(1, median / (norms[i] + 1e-8));
      for (let b = 0; b < 4; b++) tabs[4 * i + b] = parts[i].table[b] * factor;
    }
    scatterMean(parts, tabs, l, result, reduce === "all" ? parts.length : 0);
  }
  return out;
}

/** Per chunk: sum the peers' values per coordinate, then divide by `divisor`, or by the count when it is 0. */
function scatterMean(
  parts: CompressedTensor[],
  tabs: Float32Array,
  l: ChunkLayout,
  result: Float32Array,
  divisor: number,
): void {
  if (sumL.length < l.chunkSize) {
    sumL = new Float64Array(l.chunkSize);
    cntL = new Uint32Array(l.chunkSize);
  }
  const sum = sumL;
  const cnt = cntL;
  const off = localOffsets(l);
  const k = l.k;
  for (let c = 0; c < l.numChunks; c++) {
    const j0 = c * k;
    const j1 = j0 + k;
    for (let i = 0; i < parts.length; i++) {
      const { indices, codes } = parts[i];
      const t = 4 * i;
      for (let j = j0; j < j1; j++) {
        const li = indices[j];
        sum[li] += tabs[t + codes[j]];
        cnt[li]++;
      }
    }
    const base = chunkBase(l, c);
    for (let i = 0; i < parts.length; i++) {
      const indices = parts[i].indices;
      for (let j = j0; j < j1; j++) {
        const li = indices[j];
        const n = cnt[li];
        if (n === 0) continue; // already written (another peer chose it too)
        result[base + off[li]] = sum[li] / (divisor || n);
        sum[li] = 0;
        cnt[li] = 0;
      }
    }
  }
}

/**
 * The outer step theta <- theta - alpha * aggregated, in place on `params` (the master copy; no second
 * model-sized buffer), float32 per coordinate. Returns `params`. Covenant: plain SGD, alpha = 1.0.
 */
export function outerStep(params: ParamMap, aggregated: ParamMap, alpha = 1.0): ParamMap {
  for (const [name, g] of aggregated) {
    const theta = params.get(name);
    if (theta === undefined) throw new SparseLocoError("MISSING_TENSOR", `outerStep: no parameter ${name}`);
    if (theta.length !== g.length)
      throw new SparseLocoError("LENGTH_MISMATCH", `outerStep: ${name} has ${theta.length} values, update ${g.length}`);
    for (let i = 0; i < theta.length; i++) theta[i] -= alpha * g[i];
  }
  return params;
}
