import type { Hash32 } from "../hash/index.ts";
import { sha256 } from "../hash/index.ts";
import { aggregate, decodedNorm, outerStep } from "./aggregate.ts";
import { type SparseUpdate, encodeUpdate } from "./codec.ts";
import { compressTensor, layoutFromGrid } from "./compress.ts";
import { SparseLocoError } from "./errors.ts";
import { modelHash } from "./hash.ts";
import { chunkBase, localOffsets } from "./layout.ts";
import type { SparseLocoOptions } from "./options.ts";
import type { ParamMap, TensorSpec } from "./types.ts";

/**
 * SparseLoCo at the level of a whole model (DESIGN.md steps 2-5): what a peer publishes for a round, the
 * validator's probe of one update, and the outer step over the gathered updates. The per-tensor
 * numerics (compress, aggregate) are unchanged underneath, so model hashes stay bit-identical.
 */

/** A peer's update for one round: the compressed tensors, their wire encoding and its sha256. */
export interface ModelUpdate {
  readonly tensors: SparseUpdate;
  readonly payload: Uint8Array;
  readonly payloadHash: Hash32;
}

/**
 * Δ = θ − θ_end per tensor (the descent direction is −Δ), folded into the error-feedback buffer and
 * compressed (top-k per chunk, 2-bit values); returns the update and the EF buffer after compression.
 * `errorFeedback` is not modified: a caller persists the new buffer together with the payload, or
 * keeps the old one when this throws SparseLocoError NON_FINITE_DELTA (a diverged inner loop).
 */
export function makeUpdate(
  theta: ParamMap,
  thetaEnd: ParamMap,
  errorFeedback: ParamMap,
  specs: readonly TensorSpec[],
  opts: Partial<SparseLocoOptions>,
): { update: ModelUpdate; errorFeedback: ParamMap } {
  const ef: ParamMap = new Map();
  const tensors: SparseUpdate = new Map();
  for (const spec of specs) {
    const a = need(theta, spec, "θ");
    const b = need(thetaEnd, spec, "θ_end");
    const e = need(errorFeedback, spec, "error feedback").slice();
    const delta = new Float32Array(a.length);
    for (let i = 0; i < delta.length; i++) delta[i] = a[i] - b[i];
    tensors.set(spec.name, compressTensor(delta, e, spec, opts));
    ef.set(spec.name, e);
  }
  const payload = encodeUpdate(tensors);
  return { update: { tensors, payload, payloadHash: sha256(payload) }, errorFeedback: ef };
}

/** A zero error-feedback buffer for `specs` (a peer's first round). */
export function zeroErrorFeedback(specs: readonly TensorSpec[], params: ParamMap): ParamMap {
  return new Map(specs.map((s) => [s.name, new Float32Array(need(params, s, "θ").length)]));
}

/**
 * L2 norm of the decoded update over all tensors, from the sparse form (per tensor
 * sqrt(Σ_b count_b·table_b²), `decodedNorm`): no dense copy. NaN when a table is not finite.
 */
export function updateNorm(update: SparseUpdate): number {
  let sq = 0;
  for (const t of update.values()) sq += decodedNorm(t) ** 2;
  return Number.isFinite(sq) ? Math.sqrt(sq) : Number.NaN;
}

/**
 * θ − s·u for a decoded update u, written from the sparse form: a copy of θ with only the chosen
 * coordinates changed. Equal, value for value, to subtracting s times the dense decoded tensor.
 */
export function probeModel(
  theta: ParamMap,
  update: SparseUpdate,
  scale: number,
  specs: readonly TensorSpec[],
): ParamMap {
  const out: ParamMap = new Map();
  for (const spec of specs) {
    const p = need(theta, spec, "θ").slice();
    out.set(spec.name, p);
    const t = update.get(spec.name);
    if (t === undefined || scale === 0) continue;
    const l = layoutFromGrid(spec, t);
    const off = localOffsets(l);
    const { indices, codes, table, k } = t;
    let j = 0;
    for (let c = 0; c < l.numChunks; c++) {
      const base = chunkBase(l, c);
      const end = j + k;
      for (; j < end; j++) {
        const i = base + off[indices[j]];
        p[i] = p[i] - scale * table[codes[j]];
      }
    }
  }
  return out;
}

/**
 * The outer step (DESIGN.md step 5): θ_{r+1} = θ_r − α·aggregate(updates) and H(θ_{r+1}). Peers are
 * keyed by address so every node sums in the same order; `theta` is not modified.
 */
export function nextModel(
  theta: ParamMap,
  updatesByPeer: ReadonlyMap<string, SparseUpdate>,
  specs: readonly TensorSpec[],
  opts: Pick<SparseLocoOptions, "topk" | "targetChunk"> & { alpha: number },
): { params: ParamMap; hash: Hash32 } {
  const next: ParamMap = new Map([...theta].map(([k, v]) => [k, v.slice()]));
  if (updatesByPeer.size > 0) {
    const mean = aggregate(updatesByPeer, specs, { topk: opts.topk, targetChunk: opts.targetChunk });
    outerStep(next, mean, opts.alpha);
  }
  return { params: next, hash: modelHash(next, specs) };
}

function need(map: ParamMap, spec: TensorSpec, what: string): Float32Array {
  const v = map.get(spec.name);
  if (v === undefined) throw new SparseLocoError("MISSING_TENSOR", `${what}: no tensor ${spec.name}`);
  return v;
}
