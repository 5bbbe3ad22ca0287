// Fused softmax + cross-entropy over logits [rows, V] (V, WG, VPT = ceil(V/WG) injected): one
// workgroup per row computes lse = max + log(sum(exp(x - max))), the row's loss lse - x[tgt], and
// (when asked) overwrites the logits with their gradient (softmax - onehot) / rows, the gradient of
// the mean loss. Targets are clamped to [0, V) (the host rejects bad ids before they get here).

struct CeArgs {
  rows: u32,
  targetsOff: u32,
  writeGrad: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> a: CeArgs;
@group(0) @binding(1) var<storage, read> batch: array<i32>;
@group(0) @binding(2) var<storage, read_write> logits: array<f32>;
@group(0) @binding(3) var<storage, read_write> lossRows: array<f32>;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let r = wid.x + wid.y * nwg.x;
  if (r >= a.rows) {
    return;
  }
  let base = r * V;
  var xs: array<f32, VPT>;
  var mx = -3.0e38;
  for (var i = 0u; i < VPT; i++) {
    let c = lid + i * WG;
    xs[i] = -3.0e38;
    if (c < V) {
      xs[i] = logits[base + c];
      mx = max(mx, xs[i]);
    }
  }
  mx = wg_max(mx, lid);
  var s = 0.0;
  for (var i = 0u; i < VPT; i++) {
    if (lid + i * WG < V) {
      s += exp(xs[i] - mx);
    }
  }
  let lse = mx + log(wg_sum(s, lid));
  let tgt = u32(clamp(batch[a.targetsOff + r], 0, i32(V) - 1));
  let inv = 1.0 / f32(a.rows);
  for (var i = 0u; i < VPT; i++) {
    let c = lid + i * WG;
    if (c < V) {
      if (c == tgt) {
        lossRows[r] = lse - xs[i];
      }
      if (a.writeGrad != 0u) {
        logits[base + c] = (exp(xs[i] - lse) - select(0.0, 1.0, c == tgt)) * inv;
      }
    }
  }
}
