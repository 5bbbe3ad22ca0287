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
 * detectCopy for a whole round: `updates` in announcement order; returns the verdict of each copier.
 * A copier is compared against every earlier update, copiers included, so a copy of a copy is caught.
 */
export function detectCopies(updates: readonly IndexedUpdate[], threshold = 0.4): Map<string, CopyVerdict> {
  const out = new Map<string, CopyVerdict>();
  for (let i = 1; i < updates.length; i++) {
    const v = detectCopy(updates[i], updates.slice(0, i), threshold);
    if (v) out.set(updates[i].id, v);
  }
  return out;
}
