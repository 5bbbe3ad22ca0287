/** Shared fixtures for the sparseloco tests: a seeded PRNG and random tensors. */
import type { TensorSpec } from "../../node/sparseloco/index.ts";

export { prng } from "../fixtures/prng.ts";

export function randomTensor(n: number, rnd: () => number, scale = 1e-3): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rnd() - 0.5) * 2 * scale;
  return out;
}

export const SHAPES: number[][] = [[256, 192], [96, 80], [100], [50], [70, 33], [97, 64], [128, 128], [4096]];

export function specsOf(shapes: number[][]): TensorSpec[] {
  return shapes.map((shape, i) => ({ name: `t${i}.${shape.join("x")}`, shape }));
}
