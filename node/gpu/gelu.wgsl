// GELU, tanh approximation (GPT-2; torch approximate='tanh'), in the sigmoid form the tfjs model uses:
// 0.5 (1 + tanh z) = sigmoid(2z), z = k (x + 0.044715 x^3), k = sqrt(2/pi). The exponent is clamped so
// exp never overflows (sigmoid is already 0 or 1 there in f32).
const GELU_K: f32 = 0.7978845608028654;
const GELU_A: f32 = 0.044715;

fn gelu_sig(x: f32) -> f32 {
  let z2 = 2.0 * GELU_K * (x + GELU_A * x * x * x);
  return 1.0 / (1.0 + exp(clamp(-z2, -80.0, 80.0)));
}

fn gelu(x: f32) -> f32 {
  return x * gelu_sig(x);
}

// d/dx x s(2z) = s + x s (1 - s) 2k (1 + 3 * 0.044715 x^2)
fn gelu_grad(x: f32) -> f32 {
  let s = gelu_sig(x);
  return s + x * s * (1.0 - s) * (2.0 * GELU_K) * (1.0 + 3.0 * GELU_A * x * x);
}
