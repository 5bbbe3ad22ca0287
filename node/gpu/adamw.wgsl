// Multi-tensor AdamW with decoupled weight decay (Loshchilov & Hutter 2019), one dispatch for every
// parameter: the flat parameter, gradient and moment buffers share one layout, cut into chunks that
// never cross a tensor (apex's multi_tensor_apply); chunk i = (start, len, decay flag). Decay applies
// to matrices only. The gradient is scaled by the clip coefficient clip.wgsl left in stats[2], so
// nothing is read back between the backward pass and the update. Same arithmetic as the tfjs engine:
// m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p = p (1 - lr wd) - lr (m/bc1) / (sqrt(v/bc2) + eps).

struct Step {
  lr: f32,
  b1: f32,
  omb1: f32,
  b2: f32,
  omb2: f32,
  eps: f32,
  decay: f32,
  bc1: f32,
  bc2: f32,
  chunks: u32,
  _p0: u32,
  _p1: u32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> s: Step;
@group(0) @binding(1) var<storage, read> chunks: array<vec4u>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> grads: array<f32>;
@group(0) @binding(4) var<storage, read_write> params: array<f32>;
@group(0) @binding(5) var<storage, read_write> m: array<f32>;
@group(0) @binding(6) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let ci = wid.x + wid.y * nwg.x;
  if (ci >= s.chunks) {
    return;
  }
  let e = chunks[ci];
  let coef = stats[2];
  let decay = select(1.0, s.decay, e.z != 0u);
  for (var i = lid; i < e.y; i += WG) {
    let k = e.x + i;
    let g = grads[k] * coef;
    let mk = s.b1 * m[k] + s.omb1 * g;
    let vk = s.b2 * v[k] + s.omb2 * (g * g);
    m[k] = mk;
    v[k] = vk;
    let update = (mk / s.bc1) / (sqrt(vk / s.bc2) + s.eps);
    params[k] = params[k] * decay - update * s.lr;
  }
}
