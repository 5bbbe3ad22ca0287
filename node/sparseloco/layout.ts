import { SparseLocoError } from "./errors.ts";

/**
 * How a tensor is cut into chunks (Templar `compress.py`, covenant-facts §1): each dimension uses the
 * largest divisor <= targetChunk, so a 2-D [R, C] tensor becomes a grid of cr x cc blocks and a 1-D [n]
 * tensor a row of chunks. Chunks are numbered row-major over the grid; a chunk-local index is
 * `localRow * cc + localCol`, exactly the `view(R/cr, cr, C/cc, cc).permute(0, 2, 1, 3)` order.
 */
export interface ChunkLayout {
  readonly rows: number;
  readonly cols: number;
  readonly chunkRows: number;
  readonly chunkCols: number;
  /** Chunks per dimension, same length as the shape (the wire's chunkGrid). */
  readonly grid: readonly number[];
  readonly gridRows: number;
  readonly gridCols: number;
  readonly chunkSize: number;
  readonly numChunks: number;
  /** Values kept per chunk: min(topk, chunkSize). */
  readonly k: number;
  readonly numel: number;
}

export function largestDivisorAtMost(n: number, limit: number): number {
  for (let d = Math.min(n, limit); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

export function chunkLayout(shape: readonly number[], topk: number, targetChunk: number): ChunkLayout {
  if (shape.length < 1 || shape.length > 2 || shape.some((d) => !Number.isSafeInteger(d) || d < 1)) {
    throw new SparseLocoError(
      "BAD_SHAPE",
      `shape [${shape.join(", ")}] is not a 1-D or 2-D shape of positive integers`,
    );
  }
  const rows = shape.length === 2 ? shape[0] : 1;
  const cols = shape.length === 2 ? shape[1] : shape[0];
  const chunkRows = shape.length === 2 ? largestDivisorAtMost(rows, targetChunk) : 1;
  const chunkCols = largestDivisorAtMost(cols, targetChunk);
  const gridRows = rows / chunkRows;
  const gridCols = cols / chunkCols;
  const chunkSize = chunkRows * chunkCols;
  return {
    rows,
    cols,
    chunkRows,
    chunkCols,
    grid: shape.length === 2 ? [gridRows, gridCols] : [gridCols],
    gridRows,
    gridCols,
    chunkSize,
    numChunks: gridRows * gridCols,
    k: Math.min(topk, chunkSize),
    numel: rows * cols,
  };
}

/** Flat offset of chunk `c`'s first element. */
export function chunkBase(l: ChunkLayout, c: number): number {
  const gi = (c / l.gridCols) | 0;
  const gj = c - gi * l.gridCols;
  return gi * l.chunkRows * l.cols + gj * l.chunkCols;
}

let offsetScratch = new Int32Array(4096);

/**
 * Flat offset (from the chunk base) of each chunk-local index. Returns a shared scratch buffer that the
 * next call overwrites: it turns the divide/modulo per value into one table lookup.
 */
export function localOffsets(l: ChunkLayout): Int32Array {
  if (offsetScratch.length < l.chunkSize) offsetScratch = new Int32Array(l.chunkSize);
  const out = offsetScratch;
  let i = 0;
  for (let r = 0; r < l.chunkRows; r++) {
    const rowOff = r * l.cols;
    for (let c = 0; c < l.chunkCols; c++) out[i++] = rowOff + c;
  }
  return out;
}

export function sameDims(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
