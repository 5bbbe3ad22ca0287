// Global gradient norm and clip coefficient (torch clip_grad_norm_: scale by clip / (norm + 1e-6) when
// the norm exceeds clip), plus the step's mean loss, in two fixed-order reductions (deterministic):
// partials: workgroup g sums the squares of its chunk of the flat gradient; finalize (one workgroup)
// sums the partials and the per-row losses and writes stats = [loss, norm, coef, 0].

struct NormArgs {
  n: u32,
  chunk: u32,
  parts: u32,
  rows: u32,
  clip: f32,
  withNorm: u32,
  _p0: u32,
  _p1: u32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> a: NormArgs;
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> part_out: array<f32>;
// finalize's views
@group(0) @binding(1) var<storage, read> lossRows: array<f32>;
@group(0) @binding(2) var<storage, read> part: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;

@compute @workgroup_size(WG)
fn partials(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= a.parts) {
    return;
  }
  let start = g * a.chunk;
  let end = min(start + a.chunk, a.n);
  var s = 0.0;
  for (var i = start + lid; i < end; i += WG) {
    let x = grads[i];
    s = fma(x, x, s);
  }
  let total = wg_sum(s, lid);
  if (lid == 0u) {
    part_out[g] = total;
  }
}

@compute @workgroup_size(WG)
fn finalize(@builtin(local_invocation_index) lid: u32) {
  var l = 0.0;
  for (var i = lid; i < a.rows; i += WG) {
    l += lossRows[i];
  }
  let loss = wg_sum(l, lid) / f32(a.rows);
  var s = 0.0;
  if (a.withNorm != 0u) {
    for (var i = lid; i < a.parts; i += WG) {
      s += part[i];
    }
  }
  let norm = sqrt(wg_sum(s, lid));
  if (lid == 0u) {
    var coef = 1.0;
    if (a.clip > 0.0) {
      coef = min(1.0, a.clip / (norm + 1e-6));
    }
    stats[0] = loss;
    stats[1] = norm;
    stats[2] = coef;
    stats[3] = 0.0;
  }
}
