import { parseHash32 } from "../hash/index.ts";
import { modelHash } from "../sparseloco/hash.ts";
import { numel, type ParamMap, type TensorSpec } from "../sparseloco/types.ts";
import { ModelError } from "./errors.ts";
import type { GPTConfig } from "./options.ts";
import { checkParams, paramSpecs } from "./params.ts";

/**
 * Checkpoints in the safetensors layout (https://github.com/huggingface/safetensors): an 8-byte
 * little-endian header length, a JSON header mapping each tensor to {dtype, shape, data_offsets} plus
 * `__metadata__` (string values only, per the format), then the raw little-endian float32 data. Any
 * safetensors reader (Python, Rust) opens these files. Tensors are laid out in the model's spec order.
 */
export interface CheckpointMeta {
  readonly config: GPTConfig;
  /** H(theta), node/sparseloco modelHash: sha256 over the params sorted by name, LE float32. */
  readonly modelHash: string;
  readonly round: number;
}
export interface Checkpoint extends CheckpointMeta {
  readonly specs: TensorSpec[];
  readonly params: ParamMap;
}

const FORMAT = "cotrain-gpt-v1";
/** Header cap, so a hostile file cannot make us JSON-parse gigabytes. */
const MAX_HEADER = 16 * 1024 * 1024;

/** The padded JSON header and the data length of a checkpoint of `specs`. */
function checkpointHeader(
  config: GPTConfig,
  specs: readonly TensorSpec[],
  hash: string,
  round: number,
): { json: Buffer; dataBytes: number } {
  const header: Record<string, unknown> = {
    __metadata__: { format: FORMAT, config: JSON.stringify(config), modelHash: hash, round: String(round) },
  };
  let off = 0;
  for (const s of specs) {
    const bytes = numel(s.shape) * 4;
    header[s.name] = { dtype: "F32", shape: [...s.shape], data_offsets: [off, off + bytes] };
    off += bytes;
  }
  let json = Buffer.from(JSON.stringify(header), "utf8");
  // Pad with spaces so the data starts 8-byte aligned (the format allows trailing whitespace).
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  return { json, dataBytes: off };
}

/**
 * The size of any checkpoint of `config` (the longest round number; the hash is fixed-length): the bound
 * node/p2p puts on an announced checkpoint before fetching it.
 */
export function maxCheckpointBytes(config: GPTConfig): number {
  const { json, dataBytes } = checkpointHeader(config, paramSpecs(config), "0".repeat(64), 0xffffffff);
  return 8 + json.length + dataBytes;
}

export function saveCheckpoint(config: GPTConfig, params: ParamMap, round: number): Uint8Array {
  const specs = paramSpecs(config);
  checkParams(params, specs);
  const { json, dataBytes: off } = checkpointHeader(config, specs, modelHash(params, specs), round);
  const out = new Uint8Array(8 + json.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  const dv = new DataView(out.buffer, 8 + json.length);
  let p = 0;
  for (const s of specs) {
    // Explicit LE writes: the file format is LE whatever the host is.
    for (const x of params.get(s.name)!) {
      dv.setFloat32(p, x, true);
      p += 4;
    }
  }
  return out;
}

/**
 * Parses and verifies a checkpoint: the tensors must be exactly the config's specs, and the recomputed
 * model hash must equal the stored one and `expectedHash` (e.g. the hash finalized on chain) if given.
 */
export function loadCheckpoint(bytes: Uint8Array, expectedHash?: string): Checkpoint {
  if (bytes.length < 8) throw new ModelError("BAD_CHECKPOINT", "checkpoint shorter than its header length");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = Number(dv.getBigUint64(0, true));
  if (hlen > MAX_HEADER || 8 + hlen > bytes.length) throw new ModelError("BAD_CHECKPOINT", `bad header length ${hlen}`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  let meta: Record<string, string>;
  try {
    const parsed = JSON.parse(Buffer.from(bytes.subarray(8, 8 + hlen)).toString("utf8"));
    meta = parsed.__metadata__;
    header = parsed;
  } catch (e) {
    throw new ModelError("BAD_CHECKPOINT", `header is not JSON: ${(e as Error).message}`);
  }
  if (!meta || meta.format !== FORMAT) throw new ModelError("BAD_CHECKPOINT", "missing or unknown __metadata__.format");
  const config = JSON.parse(meta.config) as GPTConfig;
  const specs = paramSpecs(config);
  const dataStart = 8 + hlen;
  const params: ParamMap = new Map();
  for (const s of specs) {
    const e = header[s.name];
    if (e?.dtype !== "F32" || JSON.stringify(e.shape) !== JSON.stringify(s.shape)) {
      throw new ModelError("BAD_CHECKPOINT", `tensor ${s.name} missing or with the wrong dtype/shape`);
    }
    const [a, b] = e.data_offsets;
    if (b - a !== numel(s.shape) * 4 || dataStart + b > bytes.length || a < 0)
      throw new ModelError("BAD_CHECKPOINT", `bad offsets for ${s.name}`);
    const v = new Float32Array(numel(s.shape));
    const tv = new DataView(bytes.buffer, bytes.byteOffset + dataStart + a, b - a);
    for (let i = 0; i < v.length; i++) v[i] = tv.getFloat32(i * 4, true);
    params.set(s.name, v);
  }
  if (Object.keys(header).length !== specs.length + 1)
    throw new ModelError("BAD_CHECKPOINT", "unexpected extra tensors");
  const hash = modelHash(params, specs);
  if (hash !== meta.modelHash)
    throw new ModelError("HASH_MISMATCH", `stored hash ${meta.modelHash} != computed ${hash}`);
  if (expectedHash !== undefined && hash !== parseHash32(expectedHash, "expected checkpoint hash")) {
    throw new ModelError("HASH_MISMATCH", `checkpoint hash ${hash} != expected ${expectedHash}`);
  }
  return { config, modelHash: hash, round: Number(meta.round), specs, params };
}
