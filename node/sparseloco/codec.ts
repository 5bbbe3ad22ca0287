import type { CompressedTensor } from "./compress.ts";
import { SparseLocoDecodeError } from "./errors.ts";
import { chunkLayout, sameDims } from "./layout.ts";
import { type DecodeOptions, defaultSparseLocoOptions } from "./options.ts";
import { packedCodeBytes, packedIndexBytes, pack12, pack2, unpack12, unpack2 } from "./pack.ts";
import { SparseUpdatePb } from "./pb/update.ts";
import type { TensorSpec } from "./types.ts";

export const WIRE_VERSION = 1;

/** A peer's update for one round: compressed tensors keyed by parameter name. */
export type SparseUpdate = Map<string, CompressedTensor>;

/** Plain code-unit order (not localeCompare): the same on every machine and locale. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Serializes an update (protons, pb/update.proto). Tensors are written in name order so equal updates
 * give equal bytes (the announcement carries the payload hash).
 */
export function encodeUpdate(update: SparseUpdate | Iterable<CompressedTensor>): Uint8Array {
  const list = [...(update instanceof Map ? update.values() : update)].sort((a, b) => compareNames(a.name, b.name));
  return SparseUpdatePb.encode({
    version: WIRE_VERSION,
    tensors: list.map((t) => ({
      name: t.name,
      shape: [...t.shape],
      chunkGrid: [...t.chunkGrid],
      k: t.k,
      indices: pack12(t.indices) as Uint8Array<ArrayBuffer>,
      codes: pack2(t.codes) as Uint8Array<ArrayBuffer>,
      table: Array.from(t.table),
    })),
  });
}

/** Protobuf framing allowance per tensor: tags, lengths, shape/grid varints, k, 4 fixed32 table entries. */
const PER_TENSOR_OVERHEAD = 64;

/** The size of the largest valid encoding of an update for `specs`: the default decode size cap. */
export function maxUpdateBytes(specs: readonly TensorSpec[], opts?: Partial<DecodeOptions>): number {
  const topk = opts?.topk ?? defaultSparseLocoOptions.topk;
  const target = opts?.targetChunk ?? defaultSparseLocoOptions.targetChunk;
  let total = 16;
  for (const s of specs) {
    const l = chunkLayout(s.shape, topk, target);
    const n = l.numChunks * l.k;
    total += PER_TENSOR_OVERHEAD + 3 * s.name.length + packedIndexBytes(n) + packedCodeBytes(n);
  }
  return total;
}

// Epoch-stamped "seen" marks for the duplicate check: one increment per chunk instead of a clear.
let seen = new Uint32Array(4096);
let epoch = 0;

function fail(reason: SparseLocoDecodeError["reason"], message: string, tensor?: string): never {
  throw new SparseLocoDecodeError(reason, message, tensor);
}

/**
 * Parses and fully validates a peer's update against the run's specs and settings. Every failure is a
 * SparseLocoDecodeError (reason codes in errors.ts); anything else escaping is a bug (see the fuzz test).
 * Every spec must be present exactly once (as Templar requires idxs/vals/quant_params per parameter).
 */
export function decodeUpdate(
  bytes: Uint8Array,
  specs: readonly TensorSpec[],
  opts?: Partial<DecodeOptions>,
): SparseUpdate {
  const topk = opts?.topk ?? defaultSparseLocoOptions.topk;
  const target = opts?.targetChunk ?? defaultSparseLocoOptions.targetChunk;
  const maxBytes = opts?.maxBytes ?? maxUpdateBytes(specs, { topk, targetChunk: target });
  if (!(bytes instanceof Uint8Array)) fail("MALFORMED", "payload is not a Uint8Array");
  if (bytes.length > maxBytes) fail("OVERSIZED", `payload of ${bytes.length} bytes exceeds the ${maxBytes}-byte limit`);
  let msg: SparseUpdatePb;
  try {
    msg = SparseUpdatePb.decode(bytes, {
      limits: { tensors: specs.length, tensors$: { shape: 2, chunkGrid: 2, table: 4 } },
    });
  } catch (err) {
    fail("MALFORMED", `protobuf decode failed: ${(err as Error)?.message ?? String(err)}`);
  }
  if (msg.version !== WIRE_VERSION)
    fail("UNSUPPORTED_VERSION", `wire version ${msg.version}, expected ${WIRE_VERSION}`);
  const byName = new Map<string, TensorSpec>();
  for (const s of specs) byName.set(s.name, s);
  const out: SparseUpdate = new Map();
  for (const t of msg.tensors) {
    const spec = byName.get(t.name);
    if (spec === undefined) fail("UNKNOWN_TENSOR", "not a parameter of this model", t.name);
    if (out.has(t.name)) fail("DUPLICATE_TENSOR", "sent twice", t.name);
    out.set(t.name, decodeTensor(t, spec, topk, target));
  }
  if (out.size !== specs.length) {
    const missing = specs.find((s) => !out.has(s.name));
    fail("MISSING_TENSOR", "no update for this parameter", missing?.name);
  }
  return out;
}

function decodeTensor(
  t: SparseUpdatePb["tensors"][number],
  spec: TensorSpec,
  topk: number,
  target: number,
): CompressedTensor {
  const name = spec.name;
  if (!sameDims(t.shape, spec.shape))
    fail("WRONG_SHAPE", `shape [${t.shape.join(", ")}], expected [${spec.shape.join(", ")}]`, name);
  const l = chunkLayout(spec.shape, topk, target);
  if (!sameDims(t.chunkGrid, l.grid))
    fail("WRONG_CHUNK_GRID", `chunk grid [${t.chunkGrid.join(", ")}], expected [${l.grid.join(", ")}]`, name);
  if (t.k !== l.k) fail("WRONG_K", `k = ${t.k}, expected ${l.k}`, name);
  const n = l.numChunks * l.k;
  if (t.indices.length !== packedIndexBytes(n))
    fail("WRONG_LENGTH", `${t.indices.length} index bytes, expected ${packedIndexBytes(n)}`, name);
  if (t.codes.length !== packedCodeBytes(n))
    fail("WRONG_LENGTH", `${t.codes.length} code bytes, expected ${packedCodeBytes(n)}`, name);
  if (t.table.length !== 4) fail("BAD_TABLE", `${t.table.length} table entries, expected 4`, name);
  const table = new Float32Array(4);
  for (let b = 0; b < 4; b++) {
    const v = t.table[b];
    // Templar's ingest bound on quantization parameters (covenant-facts §1): finite and |x| <= 1e4.
    if (!Number.isFinite(v) || Math.abs(v) > 1e4) fail("BAD_TABLE", `table[${b}] = ${v}`, name);
    table[b] = v;
  }
  const indices = new Uint16Array(n);
  if (!unpack12(t.indices, n, indices)) fail("BAD_PADDING", "non-zero index padding", name);
  const codes = new Uint8Array(n);
  if (!unpack2(t.codes, n, codes)) fail("BAD_PADDING", "non-zero code padding", name);
  checkIndices(indices, l.numChunks, l.k, l.chunkSize, name);
  return { name, shape: [...spec.shape], chunkGrid: l.grid, k: l.k, indices, codes, table };
}

function checkIndices(indices: Uint16Array, chunks: number, k: number, chunkSize: number, name: string): void {
  if (seen.length < chunkSize) seen = new Uint32Array(chunkSize);
  const marks = seen;
  let j = 0;
  for (let c = 0; c < chunks; c++) {
    if (epoch >= 0xfffffffe) {
      marks.fill(0);
      epoch = 0;
    }
    const e = ++epoch;
    const end = j + k;
    for (; j < end; j++) {
      const i = indices[j];
      if (i >= chunkSize) fail("INDEX_OUT_OF_RANGE", `chunk ${c}: index ${i} >= chunk size ${chunkSize}`, name);
      if (marks[i] === e) fail("DUPLICATE_INDEX", `chunk ${c}: index ${i} twice`, name);
      marks[i] = e;
    }
  }
}
