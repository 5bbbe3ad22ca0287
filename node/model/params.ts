import { keccak256, toUtf8Bytes } from "ethers";
import { numel, type ParamMap, type TensorSpec } from "../sparseloco/types.ts";
import { ModelError } from "./errors.ts";
import type { GPTConfig } from "./options.ts";

export function validateConfig(c: GPTConfig): void {
  const ints = [c.vocabSize, c.nLayer, c.nHead, c.nEmbd, c.seqLen, c.mlpRatio];
  if (!ints.every((v) => Number.isInteger(v) && v > 0))
    throw new ModelError("BAD_CONFIG", "config sizes must be positive integers");
  if (c.nEmbd % c.nHead !== 0) throw new ModelError("BAD_CONFIG", `nEmbd ${c.nEmbd} not divisible by nHead ${c.nHead}`);
}

/**
 * The model's parameters in their fixed order (GPT-2 names). SparseLoCo, checkpoints and the training
 * engine all walk this list; the model hash sorts it by name (node/sparseloco/hash.ts).
 */
export function paramSpecs(c: GPTConfig): TensorSpec[] {
  validateConfig(c);
  const C = c.nEmbd;
  const F = c.mlpRatio * C;
  const specs: TensorSpec[] = [
    { name: "wte.weight", shape: [c.vocabSize, C] },
    { name: "wpe.weight", shape: [c.seqLen, C] },
  ];
  for (let i = 0; i < c.nLayer; i++) {
    const p = `h.${i}.`;
    specs.push(
      { name: `${p}ln_1.weight`, shape: [C] },
      { name: `${p}ln_1.bias`, shape: [C] },
      { name: `${p}attn.c_attn.weight`, shape: [C, 3 * C] },
      { name: `${p}attn.c_attn.bias`, shape: [3 * C] },
      { name: `${p}attn.c_proj.weight`, shape: [C, C] },
      { name: `${p}attn.c_proj.bias`, shape: [C] },
      { name: `${p}ln_2.weight`, shape: [C] },
      { name: `${p}ln_2.bias`, shape: [C] },
      { name: `${p}mlp.c_fc.weight`, shape: [C, F] },
      { name: `${p}mlp.c_fc.bias`, shape: [F] },
      { name: `${p}mlp.c_proj.weight`, shape: [F, C] },
      { name: `${p}mlp.c_proj.bias`, shape: [C] },
    );
  }
  specs.push(
    { name: "ln_f.weight", shape: [C] },
    { name: "ln_f.bias", shape: [C] },
    { name: "lm_head.weight", shape: [C, c.vocabSize] },
  );
  return specs;
}

export function countParams(c: GPTConfig): number {
  return paramSpecs(c).reduce((s, p) => s + numel(p.shape), 0);
}

/**
 * xoshiro128** over uint32 state: fast, tiny, and exact integer arithmetic, so every JS engine produces
 * the same stream. Seeded from keccak256 of the seed so any string/number gives a well-mixed state.
 */
export class Xoshiro128 {
  private s: Uint32Array;
  constructor(seed: Uint8Array) {
    if (seed.length < 16) throw new RangeError("seed must have at least 16 bytes");
    const dv = new DataView(seed.buffer, seed.byteOffset, 16);
    this.s = new Uint32Array([
      dv.getUint32(0, true),
      dv.getUint32(4, true),
      dv.getUint32(8, true),
      dv.getUint32(12, true),
    ]);
    if (this.s.every((x) => x === 0)) this.s[0] = 1;
  }
  static fromString(seed: string | number | bigint): Xoshiro128 {
    const h = keccak256(toUtf8Bytes(String(seed)));
    return new Xoshiro128(Uint8Array.from(Buffer.from(h.slice(2), "hex")));
  }
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }
  /** Uniform in [0, 1) with 32 bits. */
  nextFloat(): number {
    return this.nextU32() / 4294967296;
  }
  /** Uniform integer in [0, n), unbiased (rejection), n <= 2^32. */
  nextInt(n: number): number {
    if (!(n > 0 && n <= 4294967296)) throw new RangeError(`nextInt(${n})`);
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }
  /**
   * Approximate standard normal: Irwin-Hall sum of 4 uniforms, rescaled to unit variance. Only +, *
   * and a correctly rounded sqrt are used, so the values are bit-identical on every engine (Box-Muller
   * would depend on Math.log/cos, which ECMAScript does not pin down). Bounded to +-3.46 sigma, which
   * is harmless for a 0.02-std init.
   */
  nextNormal(): number {
    const s = this.nextFloat() + this.nextFloat() + this.nextFloat() + this.nextFloat();
    return (s - 2) * SQRT3;
  }
}

const SQRT3 = Math.sqrt(3);
function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * theta_0, deterministic from `seed` so every node of a run starts from the same model (its hash is the
 * first link of the on-chain model-state chain). Matrices ~ N(0, initStd) (residual projections scaled
 * by 1/sqrt(2*nLayer) as GPT-2 does), biases 0, LayerNorm gains 1. Values are rounded to float32 once.
 */
export function initParams(c: GPTConfig, seed: string | number | bigint): ParamMap {
  const rng = Xoshiro128.fromString(`cotrain/init/${seed}`);
  const out: ParamMap = new Map();
  const residStd = c.initStd / Math.sqrt(2 * c.nLayer);
  for (const spec of paramSpecs(c)) {
    const v = new Float32Array(numel(spec.shape));
    if (spec.shape.length === 2) {
      const std = spec.name.endsWith("c_proj.weight") ? residStd : c.initStd;
      for (let i = 0; i < v.length; i++) v[i] = rng.nextNormal() * std;
    } else if (/ln_\w+\.weight$/.test(spec.name)) {
      v.fill(1);
    }
    out.set(spec.name, v);
  }
  return out;
}

/** Throws unless `params` holds exactly the spec'd tensors with the right lengths. */
export function checkParams(params: ParamMap, specs: readonly TensorSpec[]): void {
  for (const s of specs) {
    const v = params.get(s.name);
    if (!v) throw new ModelError("MISSING_PARAM", `missing parameter ${s.name}`);
    if (v.length !== numel(s.shape))
      throw new ModelError("SHAPE_MISMATCH", `${s.name}: ${v.length} values, want ${numel(s.shape)}`);
  }
  if (params.size !== specs.length)
    throw new ModelError("SHAPE_MISMATCH", `${params.size} parameters, want ${specs.length}`);
}

export function cloneParams(params: ParamMap): ParamMap {
  return new Map([...params].map(([k, v]) => [k, v.slice()]));
}
