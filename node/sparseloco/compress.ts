import { SparseLocoError } from "./errors.ts";
import { type ChunkLayout, chunkBase, chunkLayout, localOffsets } from "./layout.ts";
import { type SparseLocoOptions, resolveSparseLocoOptions } from "./options.ts";
import { efUpdateSelect } from "./topk.ts";
import { numel, type TensorSpec } from "./types.ts";

/**
 * One tensor of a SparseLoCo update, unpacked: what `compressTensor` returns and `decodeUpdate` yields.
 * Value j (chunk `floor(j / k)`, local index `indices[j]`) is `table[codes[j]]`.
 */
export interface CompressedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  /** Chunks per dimension. */
  readonly chunkGrid: readonly number[];
  /** Values kept per chunk. */
  readonly k: number;
  /** Chunk-local indices, k per chunk, chunk after chunk (ascending within a chunk when we made it). */
  readonly indices: Uint16Array;
  /** 2-bit codes (0..3), one per index. */
  readonly codes: Uint8Array;
  /** 4 centroids. */
  readonly table: Float32Array;
}

// Scratch reused across calls (single-threaded hot path: no per-element or per-chunk allocation).
let posBuf = new Int32Array(0);
let valBuf = new Float64Array(0);

function ensureScratch(kept: number): void {
  if (posBuf.length < kept) {
    posBuf = new Int32Array(kept);
    valBuf = new Float64Array(kept);
  }
}

/**
 * SparseLoCo step 3 for one tensor (DESIGN.md; Templar `prepare_gradient_dict` + `compress.py`):
 * e <- beta*e + delta; keep the k largest |e| of each chunk; quantize the kept values to 2 bits with one
 * 4-entry table per tensor; e <- e - sent. Mutates `ef` (same length as `delta`).
 * Throws SparseLocoError NON_FINITE_DELTA if e becomes non-finite, after zeroing `ef` (an EF reset).
 */
export function compressTensor(
  delta: Float32Array,
  ef: Float32Array,
  spec: TensorSpec,
  opts?: Partial<SparseLocoOptions>,
): CompressedTensor {
  const o = resolveSparseLocoOptions(opts);
  const l = chunkLayout(spec.shape, o.topk, o.targetChunk);
  if (delta.length !== l.numel || ef.length !== l.numel) {
    throw new SparseLocoError(
      "LENGTH_MISMATCH",
      `${spec.name}: delta ${delta.length} / ef ${ef.length} values for shape [${spec.shape.join(", ")}]`,
    );
  }
  const kept = l.numChunks * l.k;
  ensureScratch(kept);
  const indices = new Uint16Array(kept);
  if (!efUpdateSelect(delta, ef, l, o.beta, indices, posBuf, valBuf)) {
    // A diverged inner loop must not poison later rounds: reset this tensor's error feedback.
    ef.fill(0);
    throw new SparseLocoError(
      "NON_FINITE_DELTA",
      `${spec.name}: error feedback became non-finite; its buffer was reset to zero`,
    );
  }
  const codes = new Uint8Array(kept);
  const table = quantize2bit(valBuf, kept, codes);
  // e <- e - sent: the EF buffer keeps what was not sent plus the quantization error.
  const pos = posBuf;
  for (let j = 0; j < kept; j++) ef[pos[j]] -= table[codes[j]];
  return { name: spec.name, shape: [...spec.shape], chunkGrid: l.grid, k: l.k, indices, codes, table };
}

/**
 * The 2-bit quantizer of Templar `compress.py` (covenant-facts §1): shift = mean(v), c = v - shift,
 * sigma = ||c|| / sqrt(n-1), scale = 6*sigma/4, code = clamp(round(c/scale + 2), 0, 3) with torch's
 * round-half-to-even, table[b] = shift + mean of the c with code b (an empty bin keeps shift).
 * When all kept values are equal (scale 0) every value takes code 2, which reproduces them exactly.
 */
function quantize2bit(v: Float64Array, n: number, codes: Uint8Array): Float32Array {
  const table = new Float32Array(4);
  if (n === 0) return table;
  let sum = 0;
  for (let j = 0; j < n; j++) sum += v[j];
  const shift = sum / n;
  let ss = 0;
  for (let j = 0; j < n; j++) {
    const c = v[j] - shift;
    ss += c * c;
  }
  const sigma = Math.sqrt(ss) / Math.sqrt(Math.max(n - 1, 1));
  const scale = (6 * sigma) / 4;
  const inv = scale > 0 ? 1 / scale : 0;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let n0 = 0;
  let n1 = 0;
  let n2 = 0;
  let n3 = 0;
  for (let j = 0; j < n; j++) {
    const c = v[j] - shift;
    const x = c * inv + 2;
    // round-half-even then clamp to [0, 3]: boundaries 0.5 -> 0, 1.5 -> 2, 2.5 -> 2.
    if (x <= 0.5) {
      codes[j] = 0;
      s0 += c;
      n0++;
    } else if (x < 1.5) {
      codes[j] = 1;
      s1 += c;
      n1++;
    } else if (x <= 2.5) {
      codes[j] = 2;
      s2 += c;
      n2++;
    } else {
      codes[j] = 3;
      s3 += c;
      n3++;
    }
  }
  table[0] = shift + (n0 > 0 ? s0 / n0 : 0);
  table[1] = shift + (n1 > 0 ? s1 / n1 : 0);
  table[2] = shift + (n2 > 0 ? s2 / n2 : 0);
  table[3] = shift + (n3 > 0 ? s3 / n3 : 0);
  return table;
}

/** Dense decoded update (zeros where nothing was sent). */
export function decompressTensor(t: CompressedTensor, spec: TensorSpec): Float32Array {
  const out = new Float32Array(numel(spec.shape));
  scatterDecoded(t, spec, out);
  return out;
}

/** Writes `table[code]` at each chosen coordinate of `out` (other entries untouched). */
export function scatterDecoded(t: CompressedTensor, spec: TensorSpec, out: Float32Array): void {
  const lay = layoutFromGrid(spec, t);
  const off = localOffsets(lay);
  const { indices, codes, table, k } = t;
  let j = 0;
  for (let c = 0; c < lay.numChunks; c++) {
    const base = chunkBase(lay, c);
    const end = j + k;
    for (; j < end; j++) out[base + off[indices[j]]] = table[codes[j]];
  }
}

/** The layout a (validated) compressed tensor was made with, from its chunk grid. */
export function layoutFromGrid(spec: TensorSpec, t: Pick<CompressedTensor, "chunkGrid" | "k">): ChunkLayout {
  const shape = spec.shape;
  const rows = shape.length === 2 ? shape[0] : 1;
  const cols = shape.length === 2 ? shape[1] : shape[0];
  const gridRows = shape.length === 2 ? t.chunkGrid[0] : 1;
  const gridCols = shape.length === 2 ? t.chunkGrid[1] : t.chunkGrid[0];
  const chunkRows = rows / gridRows;
  const chunkCols = cols / gridCols;
  if (!Number.isInteger(chunkRows) || !Number.isInteger(chunkCols) || t.chunkGrid.length !== shape.length) {
    throw new SparseLocoError(
      "BAD_SHAPE",
      `${spec.name}: chunk grid [${t.chunkGrid.join(", ")}] does not divide the shape`,
    );
  }
  return {
    rows,
    cols,
    chunkRows,
    chunkCols,
    grid: t.chunkGrid,
    gridRows,
    gridCols,
    chunkSize: chunkRows * chunkCols,
    numChunks: gridRows * gridCols,
    k: t.k,
    numel: rows * cols,
  };
}
