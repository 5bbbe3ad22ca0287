import { ScoringError } from "./errors.ts";

function norm(hash: string): string {
  const h = hash.trim().toLowerCase();
  return h.startsWith("0x") ? h.slice(2) : h;
}

/**
 * Exact sync proof: 1 when the update's announced base model hash equals H(θ_r) as this validator
 * computed it, else 0. Because the outer step is bit-identical on every machine (DESIGN.md step 5),
 * an exact hash replaces Templar's approximate parameter-sample distance. Case and 0x are ignored.
 */
export function syncScore(baseModelHash: string, expectedHash: string): 0 | 1 {
  const e = norm(expectedHash);
  if (e.length === 0) throw new ScoringError("BAD_HASH", "expected model hash is empty");
  return norm(baseModelHash) === e ? 1 : 0;
}
