/**
 * The tensor vocabulary shared by the model, SparseLoCo, the model hash and checkpoints.
 * A model is a list of named Float32Arrays in a fixed order (`TensorSpec[]`, as the model defines it);
 * every module that walks parameters walks them in that order unless it says otherwise.
 */
export interface TensorSpec {
  /** Unique, stable parameter name, e.g. "h.0.attn.c_attn.weight". */
  readonly name: string;
  /** Row-major shape; 1-D (vectors) or 2-D (matrices). */
  readonly shape: readonly number[];
}

/** Parameter values keyed by spec name. */
export type ParamMap = Map<string, Float32Array>;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
