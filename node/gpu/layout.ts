import { checkParams } from "../model/params.ts";
import { numel, type ParamMap, type TensorSpec } from "../sparseloco/types.ts";

export interface ParamSlot {
  readonly name: string;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly size: number;
}

/**
 * Every parameter in one flat f32 buffer, in spec order and packed without gaps; the gradient and the
 * optimizer moments use the same layout, so one dispatch updates every tensor. Spec order puts each
 * bias right after its weight (and each LayerNorm bias after its gain), which the kernels rely on: a
 * weight-gradient matmul writes the bias gradient as the row after the weight's (matmul biasRow).
 */
export class ParamLayout {
  readonly slots: readonly ParamSlot[];
  readonly total: number;
  private readonly byName = new Map<string, ParamSlot>();

  constructor(readonly specs: readonly TensorSpec[]) {
    let off = 0;
    const slots: ParamSlot[] = [];
    for (const s of specs) {
      const slot = { name: s.name, shape: [...s.shape], offset: off, size: numel(s.shape) };
      slots.push(slot);
      this.byName.set(s.name, slot);
      off += slot.size;
    }
    this.slots = slots;
    this.total = off;
    for (const s of slots) {
      if (!s.name.endsWith(".weight")) continue;
      const bias = this.byName.get(`${s.name.slice(0, -".weight".length)}.bias`);
      if (bias && bias.offset !== s.offset + s.size) throw new Error(`layout: ${bias.name} does not follow ${s.name}`);
    }
  }

  offset(name: string): number {
    const s = this.byName.get(name);
    if (!s) throw new Error(`layout: no parameter ${name}`);
    return s.offset;
  }

  /** The caller's tensors concatenated (checked against the specs first). */
  pack(params: ParamMap): Float32Array<ArrayBuffer> {
    checkParams(params, this.specs);
    const flat = new Float32Array(this.total);
    for (const s of this.slots) flat.set(params.get(s.name)!, s.offset);
    return flat;
  }

  /** Fresh per-tensor arrays from a flat copy. */
  unpack(flat: Float32Array): ParamMap {
    const out: ParamMap = new Map();
    for (const s of this.slots) out.set(s.name, flat.slice(s.offset, s.offset + s.size));
    return out;
  }
}
