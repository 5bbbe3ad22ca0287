/**
 * Copy detection by index overlap (covenant-facts §3 "Copy detection"): an honest peer's top-k
 * coordinates overlap another's only by chance (≈ k/chunk = 64/4096 ≈ 1.6 % per chunk for unrelated
 * updates); a copied or lightly perturbed update shares most of them.
 */

/** Global flat indices of the coordinates an update chose in one tensor, strictly increasing. */
export type IndexArray = Uint32Array | Int32Array;

/** Chosen indices per tensor name. */
export type UpdateIndices = ReadonlyMap<string, IndexArray>;

/** |a ∩ b| of two strictly increasing arrays by a merge walk (O(|a| + |b|), no allocation). */
export function countIntersection(a: IndexArray, b: IndexArray): number {
  let i = 0;
  let j = 0;
  let n = 0;
  const la = a.length;
  const lb = b.length;
  while (i < la && j < lb) {
    const x = a[i];
    const y = b[j];
    if (x === y) {
      n++;
      i++;
      j++;
    } else if (x < y) {
      i++;
    } else {
      j++;
    }
  }
  return n;
}

/**
 * Fraction of `a`'s chosen coordinates that `b` also chose, over all tensors:
 * Σ_t |a_t ∩ b_t| / Σ_t |a_t|. Summing counts weights each tensor by its number of chosen
 * coordinates, i.e. by its size under SparseLoCo's fixed k per chunk — Templar's size-weighted mean.
 * With equal k (every valid SparseLoCo update) the value is symmetric; in general it is the share of
 * the candidate `a` that came from `b`, so a copier cannot escape by sending a subset.
 */
export function indexOverlap(a: UpdateIndices, b: UpdateIndices): number {
  let shared = 0;
  let total = 0;
  for (const [name, ia] of a) {
    total += ia.length;
    const ib = b.get(name);
    if (ib !== undefined) shared += countIntersection(ia, ib);
  }
  return total === 0 ? 0 : shared / total;
}

export interface IndexedUpdate {
  /** Who announced it (address), used as the copy target. */
  id: string;
  indices: UpdateIndices;
}

export interface CopyVerdict {
  /** The earlier update this one copied. */
  copyOf: string;
  overlap: number;
}

/**
 * Which earlier update `update` copied, if any: the one with the highest overlap at or above
 * `threshold` (ties go to the earliest). `earlier` is in announcement order; the earlier-announced
 * update keeps its credit, as Templar penalises the later uploader.
 */
export function detectCopy(
  update: IndexedUpdate,
  earlier: readonly IndexedUpdate[],
  threshold = 0.4,
): CopyVerdict | null {
  let best: CopyVerdict | null = null;
  for (const e of earlier) {
    if (e.id === update.id) continue;
    const overlap = indexOverlap(update.indices, e.indices);
    if (overlap >= threshold && (best === null || overlap > best.overlap)) best = { copyOf: e.id, overlap };
  }
  return best;
}

/**
 * Per-coordinate scratch of `detectCopies`: the first and latest earlier chooser of coordinate x at
 * 2x and 2x + 1 (one cache line per coordinate), as large as the largest tensor seen, every first
 * entry -1 between calls (a latest entry is only read where its first is set). Reused so a round costs
 * O(chosen coordinates), not an allocation and fill per tensor (as the aggregator's chunk accumulators).
 */
let scratch = new Int32Array(0);

/** Earlier updates an update is compared with: its most frequent first/last choosers. */
export const MIX_SOURCES = 8;
/** Share of an update covered by at most MIX_SOURCES earlier updates from which it is a mix. */
export const MIX_COVER = 0.9;

/** Why an update was judged built from earlier updates of its round. */
export interface RoundCopyVerdict extends CopyVerdict {
  /** Share of its chosen coordinates that the (≤ MIX_SOURCES) candidate sources chose together. */
  cover: number;
  /** Candidate sources compared. */
  sources: number;
}

/**
 * Copy and mix detection for a whole round in O(MIX_SOURCES × total chosen coordinates) time and
 * O(largest tensor + n²) memory (n² int32 counters: 4 MiB at 1024 peers), replacing the O(n²) pairwise
 * check (issue 16). `updates` are in announcement order.
 *
 * One pass per tensor records, for every coordinate, the first and the latest earlier update that chose
 * it, and counts for each update how often each earlier update was that first or latest chooser of one of
 * its coordinates. The MIX_SOURCES most frequent are its candidate sources: an exact or partial copy has
 * its source among them, and a *mix* — the top-k of a sum of m earlier updates, ~k/m coordinates from
 * each, every pairwise overlap under 0.4 — has its m sources among them. Then, against those candidates
 * only: `overlap` = the largest pairwise overlap (Templar's copy rule, `copyThreshold`, unchanged) and
 * `cover` = the share of the update's coordinates that the candidates chose together. Flagged when
 * overlap ≥ threshold (a copy) or cover ≥ mixCover (a mix of up to MIX_SOURCES updates).
 *
 * Why a cover by a few sources and not the union of all earlier updates: real honest updates are
 * correlated (they share the largest coordinates of a common gradient) — on the nano model each pair
 * overlaps 0.21-0.26 and 3 earlier honest updates already cover 0.47 of a 4th (`npm run bench:proof`),
 * so a union over 64 peers would flag honest peers; a cover by ≤ 8 sources stays bounded by those
 * sources' correlation while a mix is covered ≈ 1 (docs/security.md "Gaming").
 */
export function detectCopies(
  updates: readonly IndexedUpdate[],
  threshold = 0.4,
  sizes?: ReadonlyMap<string, number>,
  mixCover = MIX_COVER,
): Map<string, RoundCopyVerdict> {
  const n = updates.length;
  /** sources[i·n + o]: coordinates of update i that earlier update o chose first or last. */
  const sources = new Int32Array(n * n);
  /** Chosen coordinates of update i, and how many of them some earlier update chose. */
  const total = new Float64Array(n);
  const shared = new Float64Array(n);
  const names = new Set<string>();
  for (const u of updates) for (const name of u.indices.keys()) names.add(name);
  for (const name of names) {
    let size = sizes?.get(name) ?? 0;
    if (sizes?.get(name) === undefined)
      for (const u of updates) {
        const idx = u.indices.get(name);
        if (idx !== undefined && idx.length > 0) size = Math.max(size, idx[idx.length - 1] + 1);
      }
    if (size <= 0) continue;
    if (scratch.length < 2 * size) scratch = new Int32Array(2 * size).fill(-1);
    const fl = scratch;
    for (let i = 0; i < n; i++) {
      const idx = updates[i].indices.get(name);
      if (idx === undefined) continue;
      const row = i * n;
      total[i] += idx.length;
      for (let j = 0; j < idx.length; j++) {
        const x = idx[j];
        if (x < 0 || x >= size) continue;
        const o = fl[2 * x];
        if (o >= 0) {
          shared[i]++;
          sources[row + o]++;
          const l = fl[2 * x + 1];
          if (l !== o) sources[row + l]++;
        } else fl[2 * x] = i;
        fl[2 * x + 1] = i;
      }
    }
    // reset only what this tensor touched: O(chosen coordinates), not O(tensor)
    for (const u of updates) {
      const idx = u.indices.get(name);
      if (idx !== undefined) for (let j = 0; j < idx.length; j++) if (idx[j] >= 0 && idx[j] < size) fl[2 * idx[j]] = -1;
    }
  }
  const out = new Map<string, RoundCopyVerdict>();
  for (let i = 1; i < n; i++) {
    // neither a pairwise overlap nor a cover can exceed the share some earlier update chose
    if (!(shared[i] >= Math.min(threshold, mixCover) * total[i]) || total[i] === 0) continue;
    const row = i * n;
    const candidates = Array.from({ length: i }, (_, o) => o)
      .filter((o) => sources[row + o] > 0 && updates[o].id !== updates[i].id)
      .sort((a, b) => sources[row + b] - sources[row + a] || a - b)
      .slice(0, MIX_SOURCES)
      .sort((a, b) => a - b);
    if (candidates.length === 0) continue;
    const { overlaps, cover } = overlapsAndCover(
      updates[i].indices,
      candidates.map((c) => updates[c].indices),
    );
    let best = 0; // ties: the earliest announced
    for (let c = 1; c < candidates.length; c++) if (overlaps[c] > overlaps[best]) best = c;
    if (overlaps[best] >= threshold || cover >= mixCover)
      out.set(updates[i].id, {
        copyOf: updates[candidates[best]].id,
        overlap: overlaps[best],
        cover,
        sources: candidates.length,
      });
  }
  return out;
}

/**
 * One merge walk per candidate: `a`'s overlap with each of `others` (as `indexOverlap`) and the share
 * of `a`'s coordinates that at least one of them chose.
 */
function overlapsAndCover(a: UpdateIndices, others: readonly UpdateIndices[]): { overlaps: number[]; cover: number } {
  let total = 0;
  let covered = 0;
  const shared = others.map(() => 0);
  for (const [name, ia] of a) {
    total += ia.length;
    const mark = new Uint8Array(ia.length);
    others.forEach((o, k) => {
      const ib = o.get(name);
      if (ib === undefined) return;
      let i = 0;
      let j = 0;
      let n = 0;
      while (i < ia.length && j < ib.length) {
        if (ia[i] === ib[j]) {
          mark[i] = 1;
          n++;
          i++;
          j++;
        } else if (ia[i] < ib[j]) i++;
        else j++;
      }
      shared[k] += n;
    });
    for (let i = 0; i < mark.length; i++) covered += mark[i];
  }
  return total === 0
    ? { overlaps: shared.map(() => 0), cover: 0 }
    : { overlaps: shared.map((x) => x / total), cover: covered / total };
}

/** Share of `a`'s chosen coordinates that at least one of `others` chose (merge walks, no allocation per index). */
export function coverBy(a: UpdateIndices, others: readonly UpdateIndices[]): number {
  return overlapsAndCover(a, others).cover;
}
