// Token + position embedding (C, WG, CPT = ceil(C/WG), V, SEQ = the model's context length injected).
// forward: x[r] = wte[ids[r]] + wpe[r % T]. backward: one workgroup per table row sums the rows of dx
// that used it, in a fixed order, and writes the gradient (deterministic, no float atomics): a wte row
// v walks the rows listed for v in a CSR index the host built from the ids (offsets [V+1], rows [B*T]);
// a wpe row t < T sums dx[b*T + t] over b; wpe rows t >= T (a batch shorter than the context) get 0.

struct EmbArgs {
  rows: u32,
  T: u32,
  B: u32,
  idsOff: u32,
  csrOff: u32,
  csrRowsOff: u32,
  wteOff: u32,
  wpeOff: u32,
}

@group(0) @binding(0) var<uniform> a: EmbArgs;
@group(0) @binding(1) var<storage, read> batch: array<i32>;
@group(0) @binding(2) var<storage, read> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;
// backward's views of the same bindings
@group(0) @binding(2) var<storage, read_write> grads: array<f32>;
@group(0) @binding(3) var<storage, read> dx: array<f32>;

fn clamp_id(v: i32, n: u32) -> u32 {
  return u32(clamp(v, 0, i32(n) - 1));
}

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
  let id = clamp_id(batch[a.idsOff + r], V);
  let t = r % a.T;
  for (var i = 0u; i < CPT; i++) {
    let c = lid + i * WG;
    if (c < C) {
      x[r * C + c] = params[a.wteOff + id * C + c] + params[a.wpeOff + t * C + c];
    }
  }
}

@compute @workgroup_size(WG)
fn backward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let w = wid.x + wid.y * nwg.x;
  if (w >= V + SEQ) {
    return;
  }
  var acc: array<f32, CPT>;
  for (var i = 0u; i < CPT; i++) {
    acc[i] = 0.0;
  }
  if (w < V) {
    let start = min(u32(max(batch[a.csrOff + w], 0)), a.rows);
    let end = min(u32(max(batch[a.csrOff + w + 1u], 0)), a.rows);
    for (var k = start; k < end; k++) {
      let row = clamp_id(batch[a.csrRowsOff + k], a.rows);
      for (var i = 0u; i < CPT; i++) {
        let c = lid + i * WG;
        if (c < C) {
          acc[i] += dx[row * C + c];
        }
      }
    }
    for (var i = 0u; i < CPT; i++) {
      let c = lid + i * WG;
      if (c < C) {
        grads[a.wteOff + w * C + c] = acc[i];
      }
    }
    return;
  }
  let t = w - V;
  if (t < a.T) {
    for (var b = 0u; b < a.B; b++) {
      for (var i = 0u; i < CPT; i++) {
        let c = lid + i * WG;
        if (c < C) {
          acc[i] += dx[(b * a.T + t) * C + c];
        }
      }
    }
  }
  for (var i = 0u; i < CPT; i++) {
    let c = lid + i * WG;
    if (c < C) {
      grads[a.wpeOff + t * C + c] = acc[i];
    }
  }
}
