/**
 * GPT configuration. Byte-level vocabulary by default (node/data's tokenizer), pre-LayerNorm blocks,
 * causal self-attention with a fused QKV matrix, GELU (tanh) MLP, learned positions, untied LM head:
 * the same architecture as ../shared/bench/torch_gpt.py, so tokens/s compare like for like.
 * Every parameter is 1-D or 2-D so SparseLoCo's 64x64 / 64-value chunking applies to all of them.
 */
export interface GPTConfig {
  /** Vocabulary size; 256 = one token per byte. */
  readonly vocabSize: number;
  /** Number of transformer blocks. */
  readonly nLayer: number;
  /** Attention heads; nEmbd must be divisible by it. */
  readonly nHead: number;
  /** Model width C. */
  readonly nEmbd: number;
  /** Context length T (positions learned for 0..T-1). */
  readonly seqLen: number;
  /** MLP hidden width as a multiple of C (GPT-2: 4). */
  readonly mlpRatio: number;
  /** LayerNorm epsilon (PyTorch default). */
  readonly lnEps: number;
  /** Std of the normal init of matrices (GPT-2: 0.02); residual projections get /sqrt(2*nLayer). */
  readonly initStd: number;
}

const base = { vocabSize: 256, mlpRatio: 4, lnEps: 1e-5, initStd: 0.02 } as const;

/** Presets; parameter counts with the byte vocabulary. */
export const modelPresets = {
  /** ~0.24M params: unit tests and the convergence test. */
  nano: { ...base, nLayer: 4, nHead: 4, nEmbd: 64, seqLen: 64 },
  /** ~1.3M params: the local testnet default (CPU / wasm). */
  micro: { ...base, nLayer: 6, nHead: 4, nEmbd: 128, seqLen: 128 },
  /** ~21M params: a real CPU box or a GPU. */
  small: { ...base, nLayer: 12, nHead: 6, nEmbd: 384, seqLen: 256 },
  /** ~86M params (GPT-2 small shape): GPU boxes. */
  base: { ...base, nLayer: 12, nHead: 12, nEmbd: 768, seqLen: 512 },
} as const satisfies Record<string, GPTConfig>;

export type ModelPreset = keyof typeof modelPresets;

export const backendChoices = ["auto", "tensorflow", "webgpu", "wasm", "cpu"] as const;
export type BackendChoice = (typeof backendChoices)[number];
