// Tiled matmul C[M,N] = op(A)[M,K] op(B)[K,N] with a fused prologue/epilogue (matmul.ts picks them).
// Constants injected by matmul.ts: BM, BN, BK (tile), TM, TN (outputs per thread). The variant is a
// uniform bit set, not a constant, so one pipeline per tile serves every matmul of the model (a
// branch on a uniform costs nothing next to the FMA loop; a pipeline costs seconds to compile on a
// CPU Vulkan): TRANS_A (A stored [K,M]), TRANS_B (B stored [N,K]), A_GELU (gelu applied to A as it is
// loaded), BIAS_ROW (row M-1 of op(A) is all ones: with A^T dY it yields the bias gradient as the row
// after the weight gradient); epi 0: C = acc, 1: + bias[n], 2: + bias[n] + aux[m,n] (residual),
// 3: acc * gelu'(aux[m,n]). Every load and store is bounds-checked: shapes need not be multiples of
// the tile.

struct Dims {
  M: u32,
  N: u32,
  K: u32,
  aOff: u32,
  bOff: u32,
  cOff: u32,
  biasOff: u32,
  auxOff: u32,
  flags: u32,
  epi: u32,
}

const TRANS_A: u32 = 1u;
const TRANS_B: u32 = 2u;
const A_GELU: u32 = 4u;
const BIAS_ROW: u32 = 8u;

fn has(f: u32) -> bool {
  return (d.flags & f) != 0u;
}

@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> aux: array<f32>;
@group(0) @binding(5) var<storage, read_write> C: array<f32>;

const WX: u32 = BN / TN;
const WY: u32 = BM / TM;
const THREADS: u32 = WX * WY;

// Tiles stored k-major, so the inner loop reads TM (TN) consecutive-in-thread values per k.
var<workgroup> As: array<f32, BK * BM>;
var<workgroup> Bs: array<f32, BK * BN>;

fn load_a(m: u32, k: u32) -> f32 {
  var rows = d.M;
  if (has(BIAS_ROW)) {
    rows = d.M - 1u;
  }
  if (k >= d.K || m >= d.M) {
    return 0.0;
  }
  if (m >= rows) {
    return 1.0;
  }
  var x: f32;
  if (has(TRANS_A)) {
    x = A[d.aOff + k * rows + m];
  } else {
    x = A[d.aOff + m * d.K + k];
  }
  if (has(A_GELU)) {
    x = gelu(x);
  }
  return x;
}

fn load_b(k: u32, n: u32) -> f32 {
  if (k >= d.K || n >= d.N) {
    return 0.0;
  }
  if (has(TRANS_B)) {
    return B[d.bOff + n * d.K + k];
  }
  return B[d.bOff + k * d.N + n];
}

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tx = lid % WX;
  let ty = lid / WX;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  var acc: array<f32, TM * TN>;
  for (var i = 0u; i < TM * TN; i++) {
    acc[i] = 0.0;
  }
  var ar: array<f32, TM>;
  var br: array<f32, TN>;
  for (var k0 = 0u; k0 < d.K; k0 += BK) {
    // Loads walk the operand's contiguous dimension with consecutive threads (coalesced).
    for (var e = lid; e < BM * BK; e += THREADS) {
      var mm: u32;
      var kk: u32;
      if (has(TRANS_A)) {
        mm = e % BM;
        kk = e / BM;
      } else {
        kk = e % BK;
        mm = e / BK;
      }
      As[kk * BM + mm] = load_a(m0 + mm, k0 + kk);
    }
    for (var e = lid; e < BN * BK; e += THREADS) {
      var nn: u32;
      var kk: u32;
      if (has(TRANS_B)) {
        kk = e % BK;
        nn = e / BK;
      } else {
        nn = e % BN;
        kk = e / BN;
      }
      Bs[kk * BN + nn] = load_b(k0 + kk, n0 + nn);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      for (var i = 0u; i < TM; i++) {
        ar[i] = As[kk * BM + ty + i * WY];
      }
      for (var j = 0u; j < TN; j++) {
        br[j] = Bs[kk * BN + tx + j * WX];
      }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) {
          acc[i * TN + j] = fma(ar[i], br[j], acc[i * TN + j]);
        }
      }
    }
    workgroupBarrier();
  }
  // Thread (tx, ty) owns rows ty + i*WY and columns tx + j*WX: neighbouring threads store neighbouring
  // columns.
  for (var i = 0u; i < TM; i++) {
    let m = m0 + ty + i * WY;
    if (m >= d.M) {
      continue;
    }
    for (var j = 0u; j < TN; j++) {
      let n = n0 + tx + j * WX;
      if (n >= d.N) {
        continue;
      }
      var c = acc[i * TN + j];
      if (d.epi == 1u || d.epi == 2u) {
        c += bias[d.biasOff + n];
      }
      if (d.epi == 2u) {
        c += aux[d.auxOff + m * d.N + n];
      }
      if (d.epi == 3u) {
        c *= gelu_grad(aux[d.auxOff + m * d.N + n]);
      }
      C[d.cOff + m * d.N + n] = c;
    }
  }
}
