// Workgroup tree reductions over WG threads (WG a power of two, defined by the including kernel), in a
// fixed order: the same bits every run. Every thread of the workgroup must call them (they barrier).

var<workgroup> red: array<vec2f, WG>;

// Two sums at once (LayerNorm's backward needs mean(dxh) and mean(dxh * xh) together).
fn wg_sum2(v: vec2f, lid: u32) -> vec2f {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red[lid] += red[lid + s];
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn wg_sum(v: f32, lid: u32) -> f32 {
  return wg_sum2(vec2f(v, 0.0), lid).x;
}

fn wg_max(v: f32, lid: u32) -> f32 {
  red[lid] = vec2f(v, 0.0);
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red[lid].x = max(red[lid].x, red[lid + s].x);
    }
    workgroupBarrier();
  }
  let r = red[0].x;
  workgroupBarrier();
  return r;
}
