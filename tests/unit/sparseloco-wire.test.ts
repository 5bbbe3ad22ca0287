import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type DecodeErrorReason,
  SparseLocoDecodeError,
  type SparseUpdate,
  compressTensor,
  decodeUpdate,
  encodeUpdate,
  maxUpdateBytes,
  numel,
} from "../../node/sparseloco/index.ts";
import { pack12 } from "../../node/sparseloco/pack.ts";
import { SparseUpdatePb } from "../../node/sparseloco/pb/update.ts";
import { prng, randomTensor, specsOf } from "./sparseloco-helpers.ts";

const specs = specsOf([[96, 80], [100], [64, 64], [35]]); // [35]: odd index count, partial code byte

function validUpdate(seed: number): SparseUpdate {
  const rnd = prng(seed);
  const u: SparseUpdate = new Map();
  for (const s of specs) {
    const d = randomTensor(numel(s.shape), rnd);
    u.set(s.name, compressTensor(d, new Float32Array(d.length), s));
  }
  return u;
}

const valid = encodeUpdate(validUpdate(1));
const msg = () => SparseUpdatePb.decode(valid);

function rejects(bytes: Uint8Array, reason: DecodeErrorReason, opts?: Parameters<typeof decodeUpdate>[2]): void {
  assert.throws(
    () => decodeUpdate(bytes, specs, opts),
    (e: unknown) => e instanceof SparseLocoDecodeError && e.reason === reason,
    `expected ${reason}`,
  );
}

describe("decodeUpdate validation", () => {
  it("accepts the valid payload", () => {
    assert.equal(decodeUpdate(valid, specs).size, specs.length);
  });

  it("rejects each malformed field with its reason", () => {
    const edit = (f: (m: SparseUpdatePb) => void) => {
      const m = msg();
      f(m);
      return SparseUpdatePb.encode(m);
    };
    rejects(valid.subarray(0, valid.length - 5), "MALFORMED");
    rejects(valid, "OVERSIZED", { maxBytes: valid.length - 1 });
    rejects(new Uint8Array(maxUpdateBytes(specs) + 1), "OVERSIZED");
    rejects(
      edit((m) => (m.version = 2)),
      "UNSUPPORTED_VERSION",
    );
    rejects(
      edit((m) => (m.tensors[0].name = "nope")),
      "UNKNOWN_TENSOR",
    );
    rejects(
      edit((m) => m.tensors.pop()),
      "MISSING_TENSOR",
    );
    rejects(
      edit((m) => (m.tensors[0] = m.tensors[1])),
      "DUPLICATE_TENSOR",
    ); // a bigger duplicate would be OVERSIZED first
    rejects(
      edit((m) => (m.tensors[0].shape = [80, 96])),
      "WRONG_SHAPE",
    );
    rejects(
      edit((m) => (m.tensors[0].chunkGrid = [1, 2])),
      "WRONG_CHUNK_GRID",
    );
    rejects(
      edit((m) => (m.tensors[0].k = 32)),
      "WRONG_K",
    );
    rejects(
      edit((m) => (m.tensors[0].codes = m.tensors[0].codes.subarray(1))),
      "WRONG_LENGTH",
    );
    rejects(
      edit((m) => (m.tensors[0].table = [0, 1, 2])),
      "BAD_TABLE",
    );
    rejects(
      edit((m) => (m.tensors[0].table = [0, 1, 2, 3, 4])),
      "MALFORMED",
    ); // over protons' repeated-field limit
    rejects(
      edit((m) => (m.tensors[0].table[2] = Number.NaN)),
      "BAD_TABLE",
    );
    rejects(
      edit((m) => (m.tensors[0].table[3] = 2e4)),
      "BAD_TABLE",
    );
    rejects(
      edit((m) => (m.tensors[0].table[0] = Number.NEGATIVE_INFINITY)),
      "BAD_TABLE",
    );
    rejects(
      edit((m) => {
        // Tensor "[96, 80]" has 1920-value chunks: 2000 fits 12 bits but not the chunk.
        const t = m.tensors.find((x) => x.shape.length === 2 && x.shape[0] === 96)!;
        const idx = new Uint16Array(4 * 64).map((_, i) => i % 64);
        idx[5] = 2000;
        t.indices = pack12(idx) as Uint8Array<ArrayBuffer>;
      }),
      "INDEX_OUT_OF_RANGE",
    );
    rejects(
      edit((m) => {
        const t = m.tensors.find((x) => x.shape.length === 2 && x.shape[0] === 96)!;
        const idx = new Uint16Array(4 * 64).map((_, i) => i % 64);
        idx[64 + 7] = idx[64 + 3]; // chunk 1
        t.indices = pack12(idx) as Uint8Array<ArrayBuffer>;
      }),
      "DUPLICATE_INDEX",
    );
    const odd = (m: SparseUpdatePb) => m.tensors.find((x) => x.shape[0] === 35)!;
    rejects(
      edit((m) => {
        const t = odd(m);
        t.indices = t.indices.slice();
        t.indices[t.indices.length - 1] = 1; // the zero index padding an odd count
      }),
      "BAD_PADDING",
    );
    rejects(
      edit((m) => {
        const t = odd(m);
        t.codes = t.codes.slice();
        t.codes[t.codes.length - 1] |= 0b1100_0000; // 35 codes: the last byte uses its low 6 bits
      }),
      "BAD_PADDING",
    );
  });
});

/** Everything decodeUpdate may do with hostile bytes: return a valid update or throw the typed error. */
function decodeOrTypedError(bytes: Uint8Array): "ok" | DecodeErrorReason {
  try {
    decodeUpdate(bytes, specs);
    return "ok";
  } catch (e) {
    if (e instanceof SparseLocoDecodeError) return e.reason;
    throw new Error(`untyped failure on ${Buffer.from(bytes.subarray(0, 64)).toString("hex")}: ${e}`);
  }
}

describe("decodeUpdate fuzz", () => {
  it("10,000+ random and mutated payloads: only SparseLocoDecodeError escapes, nothing hangs", {
    timeout: 60_000,
  }, () => {
    const rnd = prng(2024);
    const int = (n: number) => Math.floor(rnd() * n);
    const seeds = [valid, encodeUpdate(validUpdate(2)), encodeUpdate(validUpdate(3))];
    const reasons = new Map<string, number>();
    const note = (r: string) => reasons.set(r, (reasons.get(r) ?? 0) + 1);
    let cases = 0;
    // Random bytes of random lengths (mostly short, some near the size cap).
    for (let i = 0; i < 2000; i++, cases++) {
      const len = i % 10 === 0 ? int(valid.length * 2) : int(64);
      const b = new Uint8Array(len);
      for (let j = 0; j < len; j++) b[j] = int(256);
      note(decodeOrTypedError(b));
    }
    // Byte-level mutations of valid payloads: flips, overwrites, truncations, splices, duplications.
    for (let i = 0; i < 7000; i++, cases++) {
      const src = seeds[i % seeds.length];
      let b: Uint8Array = src.slice();
      const kind = i % 5;
      const nMut = 1 + int(4);
      for (let m = 0; m < nMut; m++) {
        if (kind === 0 && b.length > 0) b[int(b.length)] ^= 1 << int(8);
        else if (kind === 1 && b.length > 0) b[int(b.length)] = int(256);
        else if (kind === 2) b = b.subarray(0, int(b.length + 1));
        else if (kind === 3) {
          const at = int(b.length + 1);
          const ins = new Uint8Array(1 + int(8)).map(() => int(256));
          b = Uint8Array.from([...b.subarray(0, at), ...ins, ...b.subarray(at)]);
        } else {
          const at = int(b.length);
          const len = int(Math.min(64, b.length - at) + 1);
          b = Uint8Array.from([...b, ...b.subarray(at, at + len)]);
        }
      }
      note(decodeOrTypedError(b));
    }
    // Structured mutations: well-formed protobuf with hostile field values.
    for (let i = 0; i < 1500; i++, cases++) {
      const m = SparseUpdatePb.decode(seeds[i % seeds.length]);
      const t = m.tensors[int(m.tensors.length)];
      switch (i % 8) {
        case 0:
          t.k = int(5000);
          break;
        case 1:
          t.shape = [int(200), int(200)].slice(0, 1 + int(2));
          break;
        case 2:
          t.chunkGrid = [int(5), int(5)];
          break;
        case 3:
          t.table = [rnd() * 4e4 - 2e4, Number.NaN, Number.POSITIVE_INFINITY, -0]
            .slice(int(4))
            .concat([0, 0, 0, 0])
            .slice(0, 4);
          break;
        case 4:
          t.indices = new Uint8Array(int(400)).map(() => int(256));
          break;
        case 5:
          t.codes = new Uint8Array(t.codes.length).map(() => int(256));
          break;
        case 6:
          t.name = ["", "x".repeat(int(300)), specs[int(specs.length)].name][int(3)];
          break;
        default:
          m.tensors.push(m.tensors[int(m.tensors.length)]);
          break;
      }
      note(decodeOrTypedError(SparseUpdatePb.encode(m)));
    }
    assert.ok(cases >= 10_000, `${cases} cases`);
    assert.ok((reasons.get("MALFORMED") ?? 0) > 0 && reasons.size >= 8, JSON.stringify([...reasons]));
  });
});
