import { type ChunkLayout, localOffsets } from "./layout.ts";
import { kthLargestBits } from "./select.ts";

/**
 * The compressor's hot loop: e <- beta*e + delta plus per-chunk exact top-k of |e|.
 *
 * Why this shape (measured, docs/sparseloco.md): the EF update is memory-bound (read delta, read and
 * write e), so selection work must happen while the data is in cache and without data-dependent branches.
 * Per chunk: a strided sample of 256 new |e| values gives a threshold estimate (its
 * ceil(3k*256/n)-th largest, the 12th at 64-of-4096) that leaves ~3k candidates; right after a band row
 * is updated, each chunk's candidates are appended branch-free (integer compare on the float bits);
 * finally a quickselect over the ~190 candidates gives the exact k-th largest. If the estimate was too
 * high (fewer than k candidates; about 1 chunk in 1,000) the chunk falls back to all its values, so the
 * result is always the exact top-k, ties going to the lower local index.
 * A band of chunkRows full rows is processed at a time so memory is walked linearly (gathering a 64x64
 * block row by row defeats the prefetcher); 1-D tensors go in groups of chunks to bound scratch.
 */
const SAMPLE = 256;
const CANDIDATE_FACTOR = 3;
const GROUP_1D = 256;

const MAX_F32_BITS = 0x7f7fffff; // largest finite float32; Infinity and NaN lie above

const sampleF32 = new Float32Array(SAMPLE);
const sampleBits = new Int32Array(sampleF32.buffer);
let candBuf = new Int32Array(0);
let candCnt = new Int32Array(0);
let estBits = new Int32Array(0);
let selScratch = new Int32Array(4097);
let candBits = new Int32Array(4097);

/**
 * Updates `ef` in place and writes, for kept value j, its chunk-local index `indices[j]`, flat position
 * `pos[j]` and value `val[j]` (k per chunk, chunks row-major over the grid, indices ascending within a
 * chunk). Returns false, after which ef and the outputs are meaningless, if e became non-finite.
 */
export function efUpdateSelect(
  delta: Float32Array,
  ef: Float32Array,
  l: ChunkLayout,
  beta: number,
  indices: Uint16Array,
  pos: Int32Array,
  val: Float64Array,
): boolean {
  const { chunkRows, chunkCols, cols, gridCols, chunkSize, k } = l;
  const off = localOffsets(l);
  const group = chunkRows > 1 ? gridCols : Math.min(gridCols, GROUP_1D);
  const stride = chunkSize + 1; // a chunk's candidate region; the branch-free write may touch [c] with c = chunkSize
  if (candBuf.length < group * stride) candBuf = new Int32Array(group * stride);
  if (candCnt.length < group) {
    candCnt = new Int32Array(group);
    estBits = new Int32Array(group);
  }
  if (selScratch.length < chunkSize) {
    selScratch = new Int32Array(chunkSize);
    candBits = new Int32Array(chunkSize);
  }
  const cand = candBuf;
  const cnt = candCnt;
  const est = estBits;
  const s = sampleF32;
  // Non-negative float32 values order like their bit patterns, so |e| >= est is an integer compare on
  // the stored bits: branch-free, and NaN/Infinity (bits above every finite value) always become
  // candidates, which is where emitChunk detects them.
  const bits = new Int32Array(ef.buffer, ef.byteOffset, ef.length);
  const sampling = k < chunkSize && chunkSize >= 4 * SAMPLE;
  const step = (chunkSize / SAMPLE) | 0;
  const rank = Math.min(SAMPLE, Math.max(1, Math.ceil((CANDIDATE_FACTOR * k * SAMPLE) / chunkSize)));
  let w = 0;
  for (let gi = 0; gi < l.gridRows; gi++) {
    const bandStart = gi * chunkRows * cols;
    for (let g0 = 0; g0 < gridCols; g0 += group) {
      const ng = Math.min(gridCols, g0 + group) - g0;
      // 1. Threshold estimates from the new |e| at sampled positions (ef is not yet updated).
      for (let j = 0; j < ng; j++) {
        cnt[j] = j * stride;
        if (!sampling) {
          est[j] = 0; // every value is a candidate
          continue;
        }
        const base = bandStart + (g0 + j) * chunkCols;
        for (let i = 0; i < SAMPLE; i++) {
          const p = base + off[i * step];
          s[i] = Math.abs(beta * ef[p] + delta[p]); // stored as float32: the same rounding as ef
        }
        est[j] = kthLargestBits(sampleBits, SAMPLE, rank);
      }
      // 2. EF update one band row at a time (linear in memory), then, while that row is in L1, append
      // each chunk's candidates: cnt[j] is chunk j's next free slot; the write is unconditional and the
      // advance 0 or 1 (integer sign bit), so there is no data-dependent branch. Unrolled by 4 (measured
      // ~30% faster than the plain loop on V8).
      const rowLen = ng * chunkCols;
      for (let r = 0; r < chunkRows; r++) {
        const rowStart = bandStart + r * cols + g0 * chunkCols;
        const rowEnd = rowStart + rowLen;
        for (let p = rowStart; p < rowEnd; p++) ef[p] = beta * ef[p] + delta[p];
        const localRow = r * chunkCols;
        for (let j = 0; j < ng; j++) {
          const eb1 = est[j] - 1;
          let c = cnt[j];
          const p0 = rowStart + j * chunkCols;
          const toLocal = localRow - p0;
          const pe = p0 + chunkCols;
          let p = p0;
          for (; p + 3 < pe; p += 4) {
            cand[c] = p + toLocal;
            c = (c + ((eb1 - (bits[p] & 0x7fffffff)) >>> 31)) | 0;
            cand[c] = p + 1 + toLocal;
            c = (c + ((eb1 - (bits[p + 1] & 0x7fffffff)) >>> 31)) | 0;
            cand[c] = p + 2 + toLocal;
            c = (c + ((eb1 - (bits[p + 2] & 0x7fffffff)) >>> 31)) | 0;
            cand[c] = p + 3 + toLocal;
            c = (c + ((eb1 - (bits[p + 3] & 0x7fffffff)) >>> 31)) | 0;
          }
          for (; p < pe; p++) {
            cand[c] = p + toLocal;
            c = (c + ((eb1 - (bits[p] & 0x7fffffff)) >>> 31)) | 0;
          }
          cnt[j] = c;
        }
      }
      // 3. Exact top-k among each chunk's candidates.
      for (let j = 0; j < ng; j++) {
        const base = bandStart + (g0 + j) * chunkCols;
        const slot = j * stride;
        w = emitChunk(ef, bits, base, off, cand, slot, cnt[j] - slot, chunkSize, k, indices, pos, val, w);
        if (w < 0) return false;
      }
    }
  }
  return true;
}

function emitChunk(
  ef: Float32Array,
  bits: Int32Array,
  base: number,
  off: Int32Array,
  cand: Int32Array,
  slot: number,
  count: number,
  chunkSize: number,
  k: number,
  indices: Uint16Array,
  pos: Int32Array,
  val: Float64Array,
  w: number,
): number {
  let c = count;
  if (c < k) {
    // Estimate too high (or chunk sent dense): every value is a candidate.
    for (let i = 0; i < chunkSize; i++) cand[slot + i] = i;
    c = chunkSize;
  }
  // One gather of the candidates' |e| bits: `sel` is permuted by the selection, `cb` keeps candidate
  // order. Every non-finite value is a candidate (see the bit compare above), so checking here suffices.
  const sel = selScratch;
  const cb = candBits;
  let maxBits = 0;
  for (let i = 0; i < c; i++) {
    const b = bits[base + off[cand[slot + i]]] & 0x7fffffff;
    maxBits = Math.max(maxBits, b);
    sel[i] = b;
    cb[i] = b;
  }
  if (maxBits > MAX_F32_BITS) return -1;
  const thr = c === k ? 0 : kthLargestBits(sel, c, k);
  let above = 0;
  for (let i = 0; i < c; i++) above += (thr - cb[i]) >>> 31;
  let ties = k - above;
  for (let i = 0; i < c; i++) {
    const b = cb[i];
    if (b > thr || (b === thr && ties-- > 0)) {
      const l = cand[slot + i];
      const p = base + off[l];
      indices[w] = l;
      pos[w] = p;
      val[w] = ef[p];
      w++;
    }
  }
  return w;
}
