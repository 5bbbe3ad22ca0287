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

/** Pairwise merges per flagged update to name whom it copied. */
const MAX_BLAME_CANDIDATES = 8;

/** Why an update was judged built from earlier updates of its round. */
export interface RoundCopyVerdict extends CopyVerdict {
  /** Share of its chosen coordinates that some earlier update of the round chose too. */
  union: number;
  /** The share expected by chance: each tensor's coordinates already covered, weighted like `union`. */
  chance: number;
  /** (union − chance) / (1 − chance): the chance-corrected share the threshold applies to. */
  excess: number;
}

/**
 * Copy and mix detection for a whole round in O(total chosen coordinates + model size), replacing the
 * O(n²) pairwise check (issue 16). `updates` are in announcement order. Per tensor, one array over the
 * tensor's coordinates records which earlier update first chose each one; an update's `union` is the
 * share of its coordinates some earlier update chose. A copy has union ≈ 1, and so has a *mix*: the
 * top-k of a sum of 3 or more earlier updates picks ~k/3 coordinates from each, so every pairwise
 * overlap stays under 0.4 while the union overlap stays ≈ 1. The union of n honest updates covers a
 * share c ≈ 1 − (1 − k/chunk)ⁿ of each tensor, so an independent honest update's union is ≈ c; the
 * threshold therefore applies to the chance-corrected `excess` = (union − c) / (1 − c) (Cohen's kappa
 * form), which equals the pairwise overlap up to k/chunk (1.6 %) for two updates: `copyThreshold` keeps
 * its meaning, "share of the update taken from others beyond chance". The blamed update (`copyOf`) is
 * the candidate with the highest pairwise overlap among the few earlier updates that most often first
 * or last chose its coordinates (so a copy of a copy names the copy, as before); only flagged updates
 * pay for pairwise merges, at most MAX_BLAME_CANDIDATES each. `sizes` gives each tensor's element count (default: its largest index + 1).
 */
export function detectCopies(
  updates: readonly IndexedUpdate[],
  threshold = 0.4,
  sizes?: ReadonlyMap<string, number>,
): Map<string, RoundCopyVerdict> {
  const n = updates.length;
  const shared = new Float64Array(n);
  const expected = new Float64Array(n);
  const total = new Float64Array(n);
  /** Per update: earlier updates that first or last chose one of its coordinates → how many. */
  const sources = updates.map(() => new Map<number, number>());
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
    // first and latest earlier chooser of each coordinate: O(tensor), freed before the next tensor
    const first = new Int32Array(size).fill(-1);
    const last = new Int32Array(size).fill(-1);
    let covered = 0;
    for (let i = 0; i < n; i++) {
      const idx = updates[i].indices.get(name);
      if (idx === undefined) continue;
      total[i] += idx.length;
      expected[i] += (idx.length * covered) / size;
      const mine = sources[i];
      for (let j = 0; j < idx.length; j++) {
        const x = idx[j];
        if (x < 0 || x >= size) continue;
        const o = first[x];
        if (o >= 0) {
          shared[i]++;
          mine.set(o, (mine.get(o) ?? 0) + 1);
          if (last[x] !== o) mine.set(last[x], (mine.get(last[x]) ?? 0) + 1);
        } else {
          first[x] = i;
          covered++;
        }
        last[x] = i;
      }
    }
  }
  const out = new Map<string, RoundCopyVerdict>();
  for (let i = 1; i < n; i++) {
    if (total[i] === 0) continue;
    const union = shared[i] / total[i];
    const chance = expected[i] / total[i];
    const excess = chance < 1 ? (union - chance) / (1 - chance) : 0;
    if (!(excess >= threshold)) continue;
    // Blame: the candidate sharing most coordinates pairwise (ties: the earliest announced).
    const candidates = [...sources[i]]
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .slice(0, MAX_BLAME_CANDIDATES)
      .map(([c]) => c);
    let best: CopyVerdict | null = null;
    for (const c of candidates.sort((a, b) => a - b)) {
      if (updates[c].id === updates[i].id) continue;
      const overlap = indexOverlap(updates[i].indices, updates[c].indices);
      if (best === null || overlap > best.overlap) best = { copyOf: updates[c].id, overlap };
    }
    if (best === null) continue;
    out.set(updates[i].id, { ...best, union, chance, excess });
  }
  return out;
}
