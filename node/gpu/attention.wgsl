// Causal self-attention over the fused QKV projection, read in place: row (b, t) of qkv [B*T, 3C]
// holds q at h*HD, k at C + h*HD, v at 2C + h*HD for head h; y is written merged as [B*T, C]. No
// [B, NH, T, T] tensor is ever stored: the forward keeps a running max and sum per query row (online
// softmax, FlashAttention: Dao et al. 2022) and saves only lse = max + log(sum) per row; the backward
// recomputes p = exp(s - lse). The backward is two kernels so that no two threads ever add into the
// same value (deterministic, no atomics): backward_dq (one thread per query row, also writes
// D = rowsum(dO * O)) and backward_dkv (one thread per key row, reads D).
// The *_tiled kernels stage K/V (or Q/dO) tiles of TILE rows through workgroup memory for BQ rows at
// once; the *_simple kernels (short sequences) give every row its own thread over a flat grid and read
// straight from memory, with an exact two-pass softmax.
// Injected: HD (head dim), NH (heads), C, BQ (threads per tiled workgroup), TILE, SCALE = 1/sqrt(HD).

struct AttnArgs {
  B: u32,
  T: u32,
}

const C3: u32 = 3u * C;

@group(0) @binding(0) var<uniform> u: AttnArgs;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
// The same binding is written by one entry point and read by another (WGSL allows aliases across
// entry points).
@group(0) @binding(2) var<storage, read_write> y_out: array<f32>;
@group(0) @binding(2) var<storage, read> y_in: array<f32>;
@group(0) @binding(3) var<storage, read_write> lse_out: array<f32>;
@group(0) @binding(3) var<storage, read> lse_in: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dqkv: array<f32>;
@group(0) @binding(6) var<storage, read_write> dsum_out: array<f32>;
@group(0) @binding(6) var<storage, read> dsum_in: array<f32>;

var<workgroup> ta: array<f32, TILE * HD>;
var<workgroup> tb: array<f32, TILE * HD>;
var<workgroup> tc: array<f32, TILE>;
var<workgroup> td: array<f32, TILE>;

fn qkv_base(b: u32, t: u32, h: u32) -> u32 {
  return (b * u.T + t) * C3 + h * HD;
}

fn y_base(b: u32, t: u32, h: u32) -> u32 {
  return (b * u.T + t) * C + h * HD;
}

fn row_stat(b: u32, h: u32, t: u32) -> u32 {
  return (b * NH + h) * u.T + t;
}

// K rows j0.. into ta, V rows into tb (zeros past T).
fn load_kv(b: u32, h: u32, j0: u32, lid: u32) {
  for (var e = lid; e < TILE * HD; e += BQ) {
    let j = j0 + e / HD;
    var kv = 0.0;
    var vv = 0.0;
    if (j < u.T) {
      let o = qkv_base(b, j, h) + e % HD;
      kv = qkv[o + C];
      vv = qkv[o + 2u * C];
    }
    ta[e] = kv;
    tb[e] = vv;
  }
}

@compute @workgroup_size(BQ)
fn forward_tiled(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let h = wid.y;
  let b = wid.z;
  let q0 = wid.x * BQ;
  let t = q0 + lid;
  let live = t < u.T;
  var q: array<f32, HD>;
  var o: array<f32, HD>;
  for (var d = 0u; d < HD; d++) {
    o[d] = 0.0;
    q[d] = 0.0;
  }
  if (live) {
    let qb = qkv_base(b, t, h);
    for (var d = 0u; d < HD; d++) {
      q[d] = qkv[qb + d] * SCALE;
    }
  }
  var mx = -3.0e38;
  var l = 0.0;
  let kEnd = min(q0 + BQ, u.T);
  for (var j0 = 0u; j0 < kEnd; j0 += TILE) {
    load_kv(b, h, j0, lid);
    workgroupBarrier();
    if (live && j0 <= t) {
      let jn = min(TILE, t + 1u - j0);
      var s: array<f32, TILE>;
      var tmax = mx;
      for (var jj = 0u; jj < jn; jj++) {
        var acc = 0.0;
        for (var d = 0u; d < HD; d++) {
          acc = fma(q[d], ta[jj * HD + d], acc);
        }
        s[jj] = acc;
        tmax = max(tmax, acc);
      }
      // Rescale what was summed under the old max (exp(-inf) = 0 on the first tile).
      let alpha = exp(mx - tmax);
      l *= alpha;
      for (var d = 0u; d < HD; d++) {
        o[d] *= alpha;
      }
      for (var jj = 0u; jj < jn; jj++) {
        let p = exp(s[jj] - tmax);
        l += p;
        for (var d = 0u; d < HD; d++) {
          o[d] = fma(p, tb[jj * HD + d], o[d]);
        }
      }
      mx = tmax;
    }
    workgroupBarrier();
  }
  if (live) {
    let inv = 1.0 / l;
    let yb = y_base(b, t, h);
    for (var d = 0u; d < HD; d++) {
      y_out[yb + d] = o[d] * inv;
    }
    lse_out[row_stat(b, h, t)] = mx + log(l);
  }
}

@compute @workgroup_size(BQ)
fn backward_dq_tiled(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let h = wid.y;
  let b = wid.z;
  let q0 = wid.x * BQ;
  let t = q0 + lid;
  let live = t < u.T;
  var q: array<f32, HD>;
  var g: array<f32, HD>;
  var dq: array<f32, HD>;
  var D = 0.0;
  var L = 0.0;
  for (var d = 0u; d < HD; d++) {
    q[d] = 0.0;
    g[d] = 0.0;
    dq[d] = 0.0;
  }
  if (live) {
    let qb = qkv_base(b, t, h);
    let yb = y_base(b, t, h);
    for (var d = 0u; d < HD; d++) {
      q[d] = qkv[qb + d] * SCALE;
      g[d] = dy[yb + d];
      D = fma(g[d], y_in[yb + d], D);
    }
    L = lse_in[row_stat(b, h, t)];
    dsum_out[row_stat(b, h, t)] = D;
  }
  let kEnd = min(q0 + BQ, u.T);
  for (var j0 = 0u; j0 < kEnd; j0 += TILE) {
    load_kv(b, h, j0, lid);
    workgroupBarrier();
    if (live && j0 <= t) {
      let jn = min(TILE, t + 1u - j0);
      for (var jj = 0u; jj < jn; jj++) {
        var s = 0.0;
        var dp = 0.0;
        for (var d = 0u; d < HD; d++) {
          s = fma(q[d], ta[jj * HD + d], s);
          dp = fma(g[d], tb[jj * HD + d], dp);
        }
        let ds = exp(s - L) * (dp - D);
        for (var d = 0u; d < HD; d++) {
          dq[d] = fma(ds, ta[jj * HD + d], dq[d]);
        }
      }
    }
    workgroupBarrier();
  }
  if (live) {
    let qb = qkv_base(b, t, h);
    for (var d = 0u; d < HD; d++) {
      dqkv[qb + d] = dq[d] * SCALE;
    }
  }
}

// Q rows (pre-scaled) i0.. into ta, dO rows into tb, lse into tc, D into td (zeros past T).
fn load_q(b: u32, h: u32, i0: u32, lid: u32) {
  for (var e = lid; e < TILE * HD; e += BQ) {
    let i = i0 + e / HD;
    var qv = 0.0;
    var gv = 0.0;
    if (i < u.T) {
      qv = qkv[qkv_base(b, i, h) + e % HD] * SCALE;
      gv = dy[y_base(b, i, h) + e % HD];
    }
    ta[e] = qv;
    tb[e] = gv;
  }
  for (var e = lid; e < TILE; e += BQ) {
    let i = i0 + e;
    var lv = 0.0;
    var dv = 0.0;
    if (i < u.T) {
      lv = lse_in[row_stat(b, h, i)];
      dv = dsum_in[row_stat(b, h, i)];
    }
    tc[e] = lv;
    td[e] = dv;
  }
}

@compute @workgroup_size(BQ)
fn backward_dkv_tiled(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let h = wid.y;
  let b = wid.z;
  let k0 = wid.x * BQ;
  let j = k0 + lid;
  let live = j < u.T;
  var k: array<f32, HD>;
  var v: array<f32, HD>;
  var dk: array<f32, HD>;
  var dv: array<f32, HD>;
  for (var d = 0u; d < HD; d++) {
    k[d] = 0.0;
    v[d] = 0.0;
    dk[d] = 0.0;
    dv[d] = 0.0;
  }
  if (live) {
    let kb = qkv_base(b, j, h);
    for (var d = 0u; d < HD; d++) {
      k[d] = qkv[kb + C + d];
      v[d] = qkv[kb + 2u * C + d];
    }
  }
  // Only queries i >= j see key j; the block's first key is k0.
  for (var i0 = k0; i0 < u.T; i0 += TILE) {
    load_q(b, h, i0, lid);
    workgroupBarrier();
    if (live) {
      for (var ii = 0u; ii < TILE; ii++) {
        let i = i0 + ii;
        if (i >= j && i < u.T) {
          var s = 0.0;
          var dp = 0.0;
          for (var d = 0u; d < HD; d++) {
            s = fma(ta[ii * HD + d], k[d], s);
            dp = fma(tb[ii * HD + d], v[d], dp);
          }
          let p = exp(s - tc[ii]);
          let ds = p * (dp - td[ii]);
          for (var d = 0u; d < HD; d++) {
            dv[d] = fma(p, tb[ii * HD + d], dv[d]);
            dk[d] = fma(ds, ta[ii * HD + d], dk[d]);
          }
        }
      }
    }
    workgroupBarrier();
  }
  if (live) {
    let kb = qkv_base(b, j, h);
    for (var d = 0u; d < HD; d++) {
      dqkv[kb + C + d] = dk[d];
      dqkv[kb + 2u * C + d] = dv[d];
    }
  }
}

// ---- short sequences: one thread per (b, h, t) row, 64 per workgroup, flat grid ----

struct Row {
  b: u32,
  h: u32,
  t: u32,
  ok: bool,
}

fn flat_row(wid: vec3u, nwg: vec3u, lid: u32) -> Row {
  let r = (wid.x + wid.y * nwg.x) * 64u + lid;
  let t = r % u.T;
  let bh = r / u.T;
  return Row(bh / NH, bh % NH, t, r < u.B * NH * u.T);
}

fn dot_qk(q: ptr<function, array<f32, HD>>, b: u32, j: u32, h: u32) -> f32 {
  let kb = qkv_base(b, j, h) + C;
  var s = 0.0;
  for (var d = 0u; d < HD; d++) {
    s = fma((*q)[d], qkv[kb + d], s);
  }
  return s;
}

@compute @workgroup_size(64)
fn forward_simple(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let r = flat_row(wid, nwg, lid);
  if (!r.ok) {
    return;
  }
  var q: array<f32, HD>;
  var o: array<f32, HD>;
  let qb = qkv_base(r.b, r.t, r.h);
  for (var d = 0u; d < HD; d++) {
    q[d] = qkv[qb + d] * SCALE;
    o[d] = 0.0;
  }
  var mx = -3.0e38;
  for (var j = 0u; j <= r.t; j++) {
    mx = max(mx, dot_qk(&q, r.b, j, r.h));
  }
  var l = 0.0;
  for (var j = 0u; j <= r.t; j++) {
    let p = exp(dot_qk(&q, r.b, j, r.h) - mx);
    l += p;
    let vb = qkv_base(r.b, j, r.h) + 2u * C;
    for (var d = 0u; d < HD; d++) {
      o[d] = fma(p, qkv[vb + d], o[d]);
    }
  }
  let yb = y_base(r.b, r.t, r.h);
  for (var d = 0u; d < HD; d++) {
    y_out[yb + d] = o[d] / l;
  }
  lse_out[row_stat(r.b, r.h, r.t)] = mx + log(l);
}

@compute @workgroup_size(64)
fn backward_dq_simple(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let r = flat_row(wid, nwg, lid);
  if (!r.ok) {
    return;
  }
  var q: array<f32, HD>;
  var g: array<f32, HD>;
  var dq: array<f32, HD>;
  let qb = qkv_base(r.b, r.t, r.h);
  let yb = y_base(r.b, r.t, r.h);
  var D = 0.0;
  for (var d = 0u; d < HD; d++) {
    q[d] = qkv[qb + d] * SCALE;
    g[d] = dy[yb + d];
    dq[d] = 0.0;
    D = fma(g[d], y_in[yb + d], D);
  }
  let L = lse_in[row_stat(r.b, r.h, r.t)];
  dsum_out[row_stat(r.b, r.h, r.t)] = D;
  for (var j = 0u; j <= r.t; j++) {
    let kb = qkv_base(r.b, j, r.h) + C;
    var s = 0.0;
    var dp = 0.0;
    for (var d = 0u; d < HD; d++) {
      s = fma(q[d], qkv[kb + d], s);
      dp = fma(g[d], qkv[kb + C + d], dp);
    }
    let ds = exp(s - L) * (dp - D);
    for (var d = 0u; d < HD; d++) {
      dq[d] = fma(ds, qkv[kb + d], dq[d]);
    }
  }
  for (var d = 0u; d < HD; d++) {
    dqkv[qb + d] = dq[d] * SCALE;
  }
}

@compute @workgroup_size(64)
fn backward_dkv_simple(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let r = flat_row(wid, nwg, lid);
  if (!r.ok) {
    return;
  }
  let j = r.t;
  var k: array<f32, HD>;
  var v: array<f32, HD>;
  var dk: array<f32, HD>;
  var dv: array<f32, HD>;
  let kb = qkv_base(r.b, j, r.h);
  for (var d = 0u; d < HD; d++) {
    k[d] = qkv[kb + C + d];
    v[d] = qkv[kb + 2u * C + d];
    dk[d] = 0.0;
    dv[d] = 0.0;
  }
  for (var i = j; i < u.T; i++) {
    let qb = qkv_base(r.b, i, r.h);
    let gb = y_base(r.b, i, r.h);
    var s = 0.0;
    var dp = 0.0;
    for (var d = 0u; d < HD; d++) {
      s = fma(qkv[qb + d] * SCALE, k[d], s);
      dp = fma(dy[gb + d], v[d], dp);
    }
    let p = exp(s - lse_in[row_stat(r.b, r.h, i)]);
    let ds = p * (dp - dsum_in[row_stat(r.b, r.h, i)]);
    for (var d = 0u; d < HD; d++) {
      dv[d] = fma(p, dy[gb + d], dv[d]);
      dk[d] = fma(ds, qkv[qb + d] * SCALE, dk[d]);
    }
  }
  for (var d = 0u; d < HD; d++) {
    dqkv[kb + C + d] = dk[d];
    dqkv[kb + 2u * C + d] = dv[d];
  }
}
