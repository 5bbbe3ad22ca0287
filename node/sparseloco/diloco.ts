import { compareNames } from "./codec.ts";
import { SparseLocoDecodeError, SparseLocoError } from "./errors.ts";
import { type OuterOptions, resolveOuterOptions } from "./options.ts";
import { DenseUpdatePb } from "./pb/update.ts";
import { numel, type ParamMap, type TensorSpec } from "./types.ts";

/**
 * Dense baseline (DiLoCo, Douillard et al. 2023): peers send full fp32 pseudo-gradients, the outer step
 * is Nesterov SGD on their plain mean (momentum 0.9, lr 0.7 as in the DiLoCo paper). Kept for
 * comparisons with SparseLoCo; the momentum buffer is the only state and is a ParamMap so the store
 * can persist it like the EF buffer.
 */
export class DiLoCoOuter {
  readonly momentum: ParamMap;
  private readonly lr: number;
  private readonly mu: number;

  constructor(
    opts: Partial<OuterOptions>,
    private readonly deps: { specs: readonly TensorSpec[]; momentum?: ParamMap },
  ) {
    const o = resolveOuterOptions(opts);
    this.lr = o.dilocoLr;
    this.mu = o.dilocoMomentum;
    this.momentum = deps.momentum ?? new Map(deps.specs.map((s) => [s.name, new Float32Array(numel(s.shape))]));
  }

  /** Mean pseudo-gradient over peers, visited in key order (bit-identical whatever the input order); non-finite tensors skipped. */
  static mean(byPeer: ReadonlyMap<string, ParamMap>, specs: readonly TensorSpec[]): ParamMap {
    const peers = [...byPeer.keys()].sort(compareNames);
    const out: ParamMap = new Map();
    for (const s of specs) {
      const size = numel(s.shape);
      const acc = new Float64Array(size);
      let count = 0;
      for (const p of peers) {
        const g = byPeer.get(p)!.get(s.name);
        if (g === undefined || g.length !== size || !allFinite(g)) continue;
        for (let i = 0; i < size; i++) acc[i] += g[i];
        count++;
      }
      const mean = new Float32Array(size);
      if (count > 0) for (let i = 0; i < size; i++) mean[i] = acc[i] / count;
      out.set(s.name, mean);
    }
    return out;
  }

  /**
   * Nesterov step in torch.optim.SGD form: m <- mu*m + g; theta <- theta - lr*(g + mu*m). In place on
   * `params` and the momentum buffer; returns `params`.
   */
  step(params: ParamMap, meanGrad: ParamMap): ParamMap {
    for (const s of this.deps.specs) {
      const theta = params.get(s.name);
      const g = meanGrad.get(s.name);
      const m = this.momentum.get(s.name);
      if (theta === undefined || g === undefined || m === undefined)
        throw new SparseLocoError("MISSING_TENSOR", `DiLoCo step: ${s.name} missing`);
      if (theta.length !== g.length || m.length !== g.length)
        throw new SparseLocoError("LENGTH_MISMATCH", `DiLoCo step: ${s.name}`);
      for (let i = 0; i < g.length; i++) {
        const mi = this.mu * m[i] + g[i];
        m[i] = mi;
        theta[i] -= this.lr * (g[i] + this.mu * mi);
      }
    }
    return params;
  }
}

function allFinite(a: Float32Array): boolean {
  let z = 0;
  for (let i = 0; i < a.length; i++) z += a[i] - a[i];
  return z === 0;
}

/** Dense wire format: fp32 little-endian per tensor, in name order (pb/update.proto DenseUpdatePb). */
export function encodeDenseUpdate(deltas: ParamMap, specs: readonly TensorSpec[]): Uint8Array {
  const ordered = [...specs].sort((a, b) => compareNames(a.name, b.name));
  return DenseUpdatePb.encode({
    version: 1,
    tensors: ordered.map((s) => {
      const v = deltas.get(s.name);
      if (v === undefined) throw new SparseLocoError("MISSING_TENSOR", `encodeDenseUpdate: ${s.name} missing`);
      return { name: s.name, values: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) as Uint8Array<ArrayBuffer> };
    }),
  });
}

export function maxDenseUpdateBytes(specs: readonly TensorSpec[]): number {
  let total = 16;
  for (const s of specs) total += 16 + 3 * s.name.length + 4 * numel(s.shape);
  return total;
}

/** Validating decode of the dense format; failures are SparseLocoDecodeError like the sparse one. */
export function decodeDenseUpdate(
  bytes: Uint8Array,
  specs: readonly TensorSpec[],
  maxBytes = maxDenseUpdateBytes(specs),
): ParamMap {
  if (bytes.length > maxBytes)
    throw new SparseLocoDecodeError("OVERSIZED", `payload of ${bytes.length} bytes exceeds ${maxBytes}`);
  let msg: DenseUpdatePb;
  try {
    msg = DenseUpdatePb.decode(bytes, { limits: { tensors: specs.length } });
  } catch (err) {
    throw new SparseLocoDecodeError("MALFORMED", `protobuf decode failed: ${(err as Error)?.message ?? String(err)}`);
  }
  if (msg.version !== 1) throw new SparseLocoDecodeError("UNSUPPORTED_VERSION", `wire version ${msg.version}`);
  const byName = new Map(specs.map((s) => [s.name, s]));
  const out: ParamMap = new Map();
  for (const t of msg.tensors) {
    const s = byName.get(t.name);
    if (s === undefined) throw new SparseLocoDecodeError("UNKNOWN_TENSOR", "not a parameter of this model", t.name);
    if (out.has(t.name)) throw new SparseLocoDecodeError("DUPLICATE_TENSOR", "sent twice", t.name);
    const size = numel(s.shape);
    if (t.values.length !== 4 * size)
      throw new SparseLocoDecodeError("WRONG_LENGTH", `${t.values.length} bytes, expected ${4 * size}`, t.name);
    const v = new Float32Array(size);
    new Uint8Array(v.buffer).set(t.values); // copy: the subarray may be unaligned
    if (!allFinite(v)) throw new SparseLocoDecodeError("NON_FINITE", "non-finite value", t.name);
    out.set(t.name, v);
  }
  if (out.size !== specs.length)
    throw new SparseLocoDecodeError(
      "MISSING_TENSOR",
      "no update for this parameter",
      specs.find((s) => !out.has(s.name))?.name,
    );
  return out;
}
