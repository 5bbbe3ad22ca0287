import * as tf from "@tensorflow/tfjs-core";

/**
 * Gradient functions for the kernels the GPT differentiates through. tfjs-core's Node (CJS) bundle
 * ships no gradients (the @tensorflow/tfjs umbrella registers them from ESM files that Node cannot
 * load), so we register the dozen we need, written from the chain rule. Matmuls and the loss have
 * their own tf.customGrad (gpt.ts). Already-registered kernels are left alone.
 */
type Saved = tf.Tensor[];

/** Sums dy over the axes along which `shape` was broadcast to dy's shape, then reshapes to `shape`. */
function unbroadcast(dy: tf.Tensor, shape: number[]): tf.Tensor {
  const axes = tf.broadcast_util.getReductionAxes(shape, dy.shape);
  return tf.reshape(axes.length > 0 ? tf.sum(dy, axes) : dy, shape);
}

const configs: tf.GradConfig[] = [
  {
    kernelName: tf.Add,
    inputsToSave: ["a", "b"],
    gradFunc: (dy, saved) => {
      const [a, b] = saved as Saved;
      const d = dy as tf.Tensor;
      return { a: () => unbroadcast(d, a.shape), b: () => unbroadcast(d, b.shape) };
    },
  },
  {
    kernelName: tf.Sub,
    inputsToSave: ["a", "b"],
    gradFunc: (dy, saved) => {
      const [a, b] = saved as Saved;
      const d = dy as tf.Tensor;
      return { a: () => unbroadcast(d, a.shape), b: () => unbroadcast(tf.neg(d), b.shape) };
    },
  },
  {
    kernelName: tf.Multiply,
    inputsToSave: ["a", "b"],
    gradFunc: (dy, saved) => {
      const [a, b] = saved as Saved;
      const d = dy as tf.Tensor;
      return { a: () => unbroadcast(tf.mul(d, b), a.shape), b: () => unbroadcast(tf.mul(d, a), b.shape) };
    },
  },
  {
    kernelName: tf.Mean,
    inputsToSave: ["x"],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as Saved;
      const axes = tf.util.parseAxisParam((attrs as unknown as tf.MeanAttrs).axis, x.shape);
      const kept = x.shape.map((s, i) => (axes.includes(i) ? 1 : s));
      const n = axes.reduce((p, i) => p * x.shape[i], 1);
      return { x: () => tf.div(tf.broadcastTo(tf.reshape(dy as tf.Tensor, kept), x.shape), n) };
    },
  },
  {
    kernelName: tf.Rsqrt,
    outputsToSave: [true],
    gradFunc: (dy, saved) => {
      const [y] = saved as Saved; // d/dx x^-1/2 = -1/2 y^3
      return { x: () => tf.mul(dy as tf.Tensor, tf.mul(tf.mul(y, tf.mul(y, y)), -0.5)) };
    },
  },
  {
    kernelName: tf.Tanh,
    outputsToSave: [true],
    gradFunc: (dy, saved) => {
      const [y] = saved as Saved;
      return { x: () => tf.mul(dy as tf.Tensor, tf.sub(1, tf.mul(y, y))) };
    },
  },
  {
    kernelName: tf.Softmax,
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [y] = saved as Saved;
      const dim = (attrs as unknown as tf.SoftmaxAttrs).dim;
      const d = dy as tf.Tensor;
      return { logits: () => tf.mul(tf.sub(d, tf.sum(tf.mul(d, y), dim, true)), y) };
    },
  },
  {
    kernelName: tf.Reshape,
    inputsToSave: ["x"],
    gradFunc: (dy, saved) => {
      const [x] = saved as Saved;
      return { x: () => tf.reshape(dy as tf.Tensor, x.shape) };
    },
  },
  {
    kernelName: tf.Transpose,
    gradFunc: (dy, _saved, attrs) => {
      const perm = (attrs as unknown as tf.TransposeAttrs).perm;
      const inv = new Array<number>(perm.length);
      perm.forEach((p, i) => {
        inv[p] = i;
      });
      return { x: () => tf.transpose(dy as tf.Tensor, inv) };
    },
  },
  {
    kernelName: tf.SplitV,
    gradFunc: (dy, _saved, attrs) => {
      const axis = (attrs as unknown as tf.SplitVAttrs).axis;
      return { x: () => tf.concat(dy as tf.Tensor[], axis) };
    },
  },
  {
    kernelName: tf.Slice,
    inputsToSave: ["x"],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as Saved;
      const { begin, size } = attrs as unknown as { begin: number[]; size: number[] };
      const pads = x.shape.map(
        (s, i) => [begin[i], s - begin[i] - (size[i] === -1 ? s - begin[i] : size[i])] as [number, number],
      );
      return { x: () => tf.pad(dy as tf.Tensor, pads) };
    },
  },
];

let done = false;
export function registerGradients(): void {
  if (done) return;
  done = true;
  for (const c of configs) if (!tf.getGradient(c.kernelName)) tf.registerGradient(c);
}
