/**
 * The lower middle value of `xs` (NaN when empty): torch.median's rule, which Templar's clip-to-median
 * uses (covenant-facts §1). The one median of the outer step, the validator's probe clip and its
 * validity bound, so all three agree on which norm is "the median" with an even number of peers.
 */
export function lowerMedian(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[(s.length - 1) >> 1];
}
