import { type AdapterReport, openGpu } from "./device.ts";
import { MatmulKernels } from "./matmul.ts";
import { defaultGpuOptions } from "./options.ts";
import { Recorder } from "./recorder.ts";
import { Runtime } from "./runtime.ts";

export interface MatmulCheck {
  readonly n: number;
  /** Median of a few timed runs (after a warm-up that compiles the kernel). */
  readonly ms: number;
  readonly gflops: number;
  /** Largest relative error of sampled outputs against a float64 product. */
  readonly maxRelErr: number;
}

export interface WebGpuReport {
  readonly adapter: AdapterReport;
  readonly matmul?: MatmulCheck;
}

/**
 * What `cotrain doctor` shows about WebGPU: the adapter (any, software ones included) and, when asked,
 * an n x n x n matmul through the engine's own kernel, timed and checked. Throws GpuError NO_ADAPTER
 * (with the likely cause) when there is none. The device is destroyed before returning.
 */
export async function probeWebGpu(opts: { matmulSize?: number } = {}): Promise<WebGpuReport> {
  const gpu = await openGpu({ ...defaultGpuOptions, allowFallbackAdapter: true });
  const rt = new Runtime(gpu);
  try {
    if (!opts.matmulSize) return { adapter: gpu.adapter };
    return { adapter: gpu.adapter, matmul: await timeMatmul(rt, opts.matmulSize) };
  } finally {
    rt.destroy();
  }
}

async function timeMatmul(rt: Runtime, n: number): Promise<MatmulCheck> {
  const A = new Float32Array(n * n);
  const B = new Float32Array(n * n);
  for (let i = 0; i < A.length; i++) {
    A[i] = Math.sin(i * 0.37);
    B[i] = Math.cos(i * 0.11);
  }
  const a = rt.storage("probe/a", n * n);
  const b = rt.storage("probe/b", n * n);
  const c = rt.storage("probe/c", n * n);
  rt.device.queue.writeBuffer(a, 0, A);
  rt.device.queue.writeBuffer(b, 0, B);
  const rec = new Recorder(rt, "probe");
  await new MatmulKernels(rt).record(rec, { label: "probe", M: n, N: n, K: n, a, b, out: c });
  const list = rec.finish(() => {});
  const runs: number[] = [];
  for (let r = 0; r < 4; r++) {
    const t0 = performance.now();
    rt.run(list);
    await rt.device.queue.onSubmittedWorkDone();
    if (r > 0) runs.push(performance.now() - t0);
  }
  const out = await rt.readFloats(c, 0, n * n);
  let maxRelErr = 0;
  for (let s = 0; s < 64; s++) {
    const i = (s * 7919) % n;
    const j = (s * 104729) % n;
    let ref = 0;
    let mag = 0;
    for (let k = 0; k < n; k++) {
      ref += A[i * n + k] * B[k * n + j];
      mag += Math.abs(A[i * n + k] * B[k * n + j]);
    }
    maxRelErr = Math.max(maxRelErr, Math.abs(out[i * n + j] - ref) / (mag + 1e-30));
  }
  runs.sort((x, y) => x - y);
  const ms = runs[Math.floor(runs.length / 2)];
  return { n, ms, gflops: (2 * n ** 3) / (ms * 1e6), maxRelErr };
}
