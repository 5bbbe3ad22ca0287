// Fused LayerNorm over rows of width C (injected with WG threads per workgroup, CPT = ceil(C/WG)
// columns per thread, EPS). Forward: one workgroup per row, two-pass mean/variance in registers,
// y = (x - mean) * rstd * g + b, and (mean, rstd) saved for the backward. Backward: one workgroup per
// chunk of rows; per row dx = rstd (dxh - mean(dxh) - xh mean(dxh xh)) with dxh = dy g, added to (or
// written into) the residual gradient; the dg = sum(dy xh) and db = sum(dy) partial sums of the chunk
// are written out and summed over chunks by reduce_params in a fixed order (deterministic, no atomics).

struct LnArgs {
  rows: u32,
  xOff: u32,
  yOff: u32,
  gOff: u32,
  rowsPerChunk: u32,
  accumulate: u32,
  partOff: u32,
  chunks: u32,
}

@group(0) @binding(0) var<uniform> a: LnArgs;

// Resource variables are per entry point; the same binding number may name a different view in each
// (WGSL allows it when no entry point uses both).
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats_out: array<f32>;
@group(0) @binding(4) var<storage, read> stats: array<f32>;
@group(0) @binding(5) var<storage, read_write> dres: array<f32>;
@group(0) @binding(6) var<storage, read_write> part_out: array<f32>;
@group(0) @binding(1) var<storage, read> part: array<f32>;
// Per LayerNorm: (partOff, gradOff).
@group(0) @binding(2) var<storage, read> table: array<u32>;
@group(0) @binding(3) var<storage, read_write> grads: array<f32>;

@compute @workgroup_size(WG)
fn forward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let r = wid.x + wid.y * nwg.x;
  if (r >= a.rows) {
    return;
  }
  let base = a.xOff + r * C;
  var xs: array<f32, CPT>;
  var s = 0.0;
  for (var i = 0u; i < CPT; i++) {
    let c = lid + i * WG;
    xs[i] = 0.0;
    if (c < C) {
      xs[i] = x[base + c];
      s += xs[i];
    }
  }
  let mean = wg_sum(s, lid) / f32(C);
  var s2 = 0.0;
  for (var i = 0u; i < CPT; i++) {
    if (lid + i * WG < C) {
      let dv = xs[i] - mean;
      s2 += dv * dv;
    }
  }
  let rstd = inverseSqrt(wg_sum(s2, lid) / f32(C) + EPS);
  for (var i = 0u; i < CPT; i++) {
    let c = lid + i * WG;
    if (c < C) {
      y[a.yOff + r * C + c] = (xs[i] - mean) * rstd * params[a.gOff + c] + params[a.gOff + C + c];
    }
  }
  if (lid == 0u) {
    stats_out[2u * r] = mean;
    stats_out[2u * r + 1u] = rstd;
  }
}

@compute @workgroup_size(WG)
fn backward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let chunk = wid.x + wid.y * nwg.x;
  if (chunk >= a.chunks) {
    return;
  }
  let r0 = chunk * a.rowsPerChunk;
  let r1 = min(r0 + a.rowsPerChunk, a.rows);
  var gs: array<f32, CPT>;
  var dgAcc: array<f32, CPT>;
  var dbAcc: array<f32, CPT>;
  for (var i = 0u; i < CPT; i++) {
    let c = lid + i * WG;
    gs[i] = 0.0;
    if (c < C) {
      gs[i] = params[a.gOff + c];
    }
    dgAcc[i] = 0.0;
    dbAcc[i] = 0.0;
  }
  for (var r = r0; r < r1; r++) {
    let mean = stats[2u * r];
    let rstd = stats[2u * r + 1u];
    var xh: array<f32, CPT>;
    var dxh: array<f32, CPT>;
    var s = vec2f(0.0);
    for (var i = 0u; i < CPT; i++) {
      let c = lid + i * WG;
      xh[i] = 0.0;
      dxh[i] = 0.0;
      if (c < C) {
        xh[i] = (x[a.xOff + r * C + c] - mean) * rstd;
        let g = dy[a.yOff + r * C + c];
        dxh[i] = g * gs[i];
        s += vec2f(dxh[i], dxh[i] * xh[i]);
        dgAcc[i] += g * xh[i];
        dbAcc[i] += g;
      }
    }
    let m = wg_sum2(s, lid) / f32(C);
    for (var i = 0u; i < CPT; i++) {
      let c = lid + i * WG;
      if (c < C) {
        let dx = rstd * (dxh[i] - m.x - xh[i] * m.y);
        let o = r * C + c;
        if (a.accumulate != 0u) {
          dres[o] += dx;
        } else {
          dres[o] = dx;
        }
      }
    }
  }
  for (var i = 0u; i < CPT; i++) {
    let c = lid + i * WG;
    if (c < C) {
      part_out[a.partOff + chunk * 2u * C + c] = dgAcc[i];
      part_out[a.partOff + chunk * 2u * C + C + c] = dbAcc[i];
    }
  }
}
// dg, db of every LayerNorm of the step in one dispatch: workgroup (column block, LN index) sums its
// chunk partials in chunk order into the flat gradient buffer (weight at gradOff, bias right after).

@compute @workgroup_size(WG)
fn reduce_params(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x * WG + lid;
  if (c >= C) {
    return;
  }
  let po = table[2u * wid.y];
  let go = table[2u * wid.y + 1u];
  var sg = 0.0;
  var sb = 0.0;
  for (var ch = 0u; ch < a.chunks; ch++) {
    sg += part[po + ch * 2u * C + c];
    sb += part[po + ch * 2u * C + C + c];
  }
  grads[go + c] = sg;
  grads[go + C + c] = sb;
}
