import { createHash } from "node:crypto";
import { endianness } from "node:os";
import type { Hash32 } from "../hash/index.ts";
import { compareNames } from "./codec.ts";
import { SparseLocoError } from "./errors.ts";
import { numel, type ParamMap, type TensorSpec } from "./types.ts";

/**
 * H(theta) (DESIGN.md step 1): sha256, hex, over every parameter's float32 values, little-endian,
 * concatenated in name order = the specs sorted by name in plain UTF-16 code-unit order (JS `<`, not
 * localeCompare), independent of the order the model lists them. Names and shapes are not hashed: the
 * run's model config fixes them. Hashes the arrays' own bytes (no copy), so the host must be
 * little-endian (every platform Node supports in practice; checked).
 */
export function modelHash(params: ParamMap, specs: readonly TensorSpec[]): Hash32 {
  if (endianness() !== "LE") throw new SparseLocoError("BIG_ENDIAN_HOST", "modelHash needs a little-endian host");
  const h = createHash("sha256");
  const ordered = [...specs].sort((a, b) => compareNames(a.name, b.name));
  for (const s of ordered) {
    const v = params.get(s.name);
    if (v === undefined) throw new SparseLocoError("MISSING_TENSOR", `modelHash: no parameter ${s.name}`);
    if (v.length !== numel(s.shape))
      throw new SparseLocoError("LENGTH_MISMATCH", `modelHash: ${s.name} has ${v.length} values`);
    h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  }
  return h.digest("hex") as Hash32;
}
