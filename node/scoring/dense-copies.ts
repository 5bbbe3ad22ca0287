import { Xoshiro128 } from "../model/params.ts";
import { type SparseUpdate, type TensorSpec, numel, scatterDecoded } from "../sparseloco/index.ts";
import type { RoundCopyVerdict } from "./overlap.ts";

/**
 * Copy detection for EF warm-up rounds (run config `sparseloco.denseRounds`), where every update keeps
 * every coordinate and index overlap (overlap.ts) says nothing. Two updates are compared by the level
 * each gives a coordinate: the rank (1-4) of its 2-bit value in the tensor's sorted 4-entry table. Ranks,
 * not codes or values, so permuting or rescaling the table does not hide a copy.
 *
 * Honest peers agree on a share of the levels because they share the gradient's direction: on nano,
 * 4 peers at H = 30, 0.51-0.73 per pair over warm-up rounds 0-2 (docs/security.md "EF warm-up rounds").
 * A copy agrees on all of them; to get under DENSE_COPY_AGREEMENT a copier has to change a tenth of its
 * source's levels, which is noise the held-out and own-sample gains then see.
 */

/** Level agreement at or above which a warm-up update counts as a copy of an earlier one. */
export const DENSE_COPY_AGREEMENT = 0.9;

/**
 * Coordinates compared per update: bounds a validator's work in a warm-up round at O(n·S) memory and
 * O(n²·S) comparisons for n updates (plus one decode pass each), whatever the model size.
 */
export const DENSE_COPY_SAMPLE = 65_536;

/** Coordinates to compare: every one of a small model, else DENSE_COPY_SAMPLE drawn from `seed`. */
export function densePositions(specs: readonly TensorSpec[], seed: string): Uint32Array {
  const total = specs.reduce((a, s) => a + numel(s.shape), 0);
  if (total <= DENSE_COPY_SAMPLE) return Uint32Array.from({ length: total }, (_, i) => i);
  // Drawn from a seed published after the submission deadline, so a copier cannot know which coordinates
  // to leave alone; sorted so each tensor's positions form one run.
  const rng = Xoshiro128.fromString(`dense-copies/${seed}`);
  return Uint32Array.from({ length: DENSE_COPY_SAMPLE }, () => rng.nextU32() % total).sort();
}

/** The update's level (0: not sent, else the rank 1-4 of the value in its tensor's table) at each position. */
export function denseLevels(update: SparseUpdate, specs: readonly TensorSpec[], positions: Uint32Array): Uint8Array {
  const out = new Uint8Array(positions.length);
  let p = 0;
  let start = 0;
  for (const spec of specs) {
    const end = start + numel(spec.shape);
    const t = update.get(spec.name);
    if (t !== undefined && p < positions.length && positions[p] < end) {
      const order = [0, 1, 2, 3].sort((a, b) => t.table[a] - t.table[b]);
      const ranks = new Float32Array(4);
      order.forEach((code, rank) => {
        ranks[code] = rank + 1;
      });
      const dense = new Float32Array(end - start);
      scatterDecoded({ ...t, table: ranks }, spec, dense);
      for (; p < positions.length && positions[p] < end; p++) out[p] = dense[positions[p] - start];
    }
    while (p < positions.length && positions[p] < end) p++;
    start = end;
  }
  return out;
}

/** Share of positions where both updates sent a value and gave it the same level. */
export function levelAgreement(a: Uint8Array, b: Uint8Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== 0 && a[i] === b[i]) same++;
  return a.length === 0 ? 0 : same / a.length;
}

/**
 * For updates in announcement order, the earlier one each agrees with most at or above `threshold`
 * (the earlier-announced keeps its credit, as in overlap.ts). O(n² · positions).
 */
export function detectDenseCopies(
  updates: readonly { id: string; levels: Uint8Array }[],
  threshold = DENSE_COPY_AGREEMENT,
): Map<string, RoundCopyVerdict> {
  const out = new Map<string, RoundCopyVerdict>();
  for (let i = 1; i < updates.length; i++) {
    let best: RoundCopyVerdict | null = null;
    for (let j = 0; j < i; j++) {
      if (updates[j].id === updates[i].id) continue;
      const agreement = levelAgreement(updates[i].levels, updates[j].levels);
      if (agreement >= threshold && (best === null || agreement > best.overlap))
        best = { copyOf: updates[j].id, overlap: agreement, cover: agreement, sources: 1 };
    }
    if (best !== null) out.set(updates[i].id, best);
  }
  return out;
}
