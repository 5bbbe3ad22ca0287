/**
 * Training-speed benchmark: tokens/s of the tfjs GPT inner loop on one backend, with the PyTorch anchor
 * (../shared/bench/torch_gpt.py, same shapes, THREADS=1) run in the same invocation, and a tf.profile
 * breakdown of one step (top kernels by time) on stderr.
 * Usage: npm run bench:train -- --preset nano --backend wasm [--batch 16] [--steps 10] [--no-anchor]
 * Prints one JSON line on stdout.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { type BackendChoice, countParams, initParams, type ModelPreset, modelPresets } from "../node/model/index.ts";
import { constantSchedule, openEngine } from "../node/train/index.ts";
import { pangramBatch } from "./pangram-batches.ts";

const { values } = parseArgs({
  options: {
    preset: { type: "string", default: "nano" },
    backend: { type: "string", default: "wasm" },
    batch: { type: "string" },
    steps: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    "no-anchor": { type: "boolean", default: false },
    "peak-gflops": { type: "string", default: "83.1" },
  },
});

const preset = values.preset as ModelPreset;
const cfg = modelPresets[preset];
if (!cfg) throw new Error(`unknown preset ${values.preset}`);
const B = Number(values.batch ?? (preset === "nano" ? 16 : 8));
const T = cfg.seqLen;
const steps = Number(values.steps);

const {
  engine,
  backend: { backend, tried },
} = await openEngine(
  { backend: values.backend as BackendChoice, lr: constantSchedule(1e-3) },
  { config: cfg, log: (m) => console.error(m) },
);
const params = initParams(cfg, 0);
const batches = Array.from({ length: steps }, (_, k) => pangramBatch(B, T, k));

let p = (await engine.train(params, batches, Number(values.warmup))).params;
const r = await engine.train(p, batches, steps);
p = r.params;
const tokensPerS = r.tokens / r.seconds;

// One profiled step: where the time goes, by tfjs kernel (the WebGPU engine has its own benchmark,
// scripts/bench-gpu.ts).
if (engine.kind === "tfjs") await profileStep();
async function profileStep(): Promise<void> {
  const prof = await tf.profile(async () => {
    await engine.train(p, batches.slice(0, 1), 1);
  });
  const byKernel = new Map<string, { ms: number; n: number }>();
  for (const k of prof.kernels) {
    // "forward" is tf.customGrad's wrapper: its time already includes the kernels it ran (listed too).
    if (k.name === "forward") continue;
    const e = byKernel.get(k.name) ?? { ms: 0, n: 0 };
    e.ms += Number(k.kernelTimeMs) || 0;
    e.n++;
    byKernel.set(k.name, e);
  }
  const totalMs = [...byKernel.values()].reduce((s, e) => s + e.ms, 0);
  const top = [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12);
  console.error(
    JSON.stringify({
      profile: {
        kernels: prof.kernels.length,
        kernel_ms: +totalMs.toFixed(1),
        top: top.map(([name, e]) => ({ name, ms: +e.ms.toFixed(1), calls: e.n, share: +(e.ms / totalMs).toFixed(3) })),
      },
    }),
  );
}
engine.dispose();

const nParams = countParams(cfg);
// fp32 peak assumed for one core of this AMD EPYC (2.6 GHz, AVX-512: 2 FMA units x 16 lanes x 2 flops
// = 64 flop/cycle would be 166 GFLOP/s; Zen 4 runs AVX-512 as 2x256-bit, so 32 flop/cycle = 83.1).
const peak = Number(values["peak-gflops"]) * 1e9;
const out: Record<string, unknown> = {
  backend,
  preset,
  params: nParams,
  n_layer: cfg.nLayer,
  n_embd: cfg.nEmbd,
  n_head: cfg.nHead,
  seq_len: T,
  batch: B,
  tokens_per_s: Math.round(tokensPerS),
  mfu: +((6 * nParams * tokensPerS) / peak).toPrecision(3),
  peak_gflops_assumed: peak / 1e9,
  steps,
  final_loss: +r.losses[r.losses.length - 1].toFixed(3),
};
if (tried.length) out.backends_failed = tried;

const script = path.resolve("../shared/bench/torch_gpt.py");
const anchorScript = existsSync(script) ? script : "/work/shared/bench/torch_gpt.py";
if (!values["no-anchor"] && existsSync("/usr/bin/python3") && existsSync(anchorScript)) {
  const env = {
    ...process.env,
    THREADS: "1",
    DEV: "cpu",
    C: String(cfg.nEmbd),
    L: String(cfg.nLayer),
    H: String(cfg.nHead),
    T: String(T),
    B: String(B),
    STEPS: String(steps),
  };
  const res = spawnSync("/usr/bin/python3", [anchorScript], { env, encoding: "utf8", timeout: 900_000 });
  const m = /([\d.]+) tok\/s/.exec(res.stdout ?? "");
  if (m) {
    out.anchor_tokens_per_s = Number(m[1]);
    out.ratio_vs_anchor = +(tokensPerS / Number(m[1])).toFixed(3);
  } else {
    out.anchor_error = (res.stderr || res.error?.message || "no RESULT line").trim().split("\n").pop();
  }
}
console.log(JSON.stringify(out));
