/**
 * WebGPU engine benchmark: tokens/s of our WGSL engine on one GPU, where the step's time goes
 * (dispatches, host encode/submit time, GPU time from timestamp queries), and optionally the PyTorch
 * anchor (../shared/bench/torch_gpt.py, same shapes) run in the same invocation for the ratio.
 * Usage: npm run bench:gpu -- --preset nano|micro|small|base [--batch B] [--seq T] [--steps N]
 *        [--warmup W] [--anchor none|cpu|cuda] [--torch path/to/torch_gpt.py]
 * Prints one JSON line on stdout (progress on stderr). On a CPU Vulkan (lavapipe, ~1 GFLOP/s) only
 * kernels_per_step and host_ms_per_step mean anything: use nano, or a short --seq for larger presets.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { WebGpuEngine } from "../node/gpu/engine.ts";
// Module files, not node/model's index: the GPU device bundle (scripts/gpu-device) carries no tfjs.
import { type ModelPreset, modelPresets } from "../node/model/options.ts";
import { countParams, initParams } from "../node/model/params.ts";
import { constantSchedule } from "../node/train/schedules.ts";
import { pangramBatch } from "./pangram-batches.ts";

const { values } = parseArgs({
  options: {
    preset: { type: "string", default: "nano" },
    batch: { type: "string", default: "16" },
    seq: { type: "string" },
    steps: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    anchor: { type: "string", default: "none" },
    torch: { type: "string" },
  },
});

const preset = values.preset as ModelPreset;
const cfg = modelPresets[preset];
if (!cfg) throw new Error(`--preset: unknown preset ${values.preset} (nano, micro, small, base)`);
const B = Number(values.batch);
const T = Number(values.seq ?? cfg.seqLen);
const steps = Number(values.steps);
const warmup = Number(values.warmup);
for (const [k, v] of Object.entries({ batch: B, seq: T, steps })) {
  if (!(Number.isInteger(v) && v > 0)) throw new Error(`--${k}: ${v} is not a positive integer`);
}
if (T > cfg.seqLen) throw new Error(`--seq: ${T} exceeds ${preset}'s context ${cfg.seqLen}`);
const log = (m: string) => console.error(`[bench:gpu] ${m}`);

const t0 = performance.now();
const engine = await WebGpuEngine.create(
  { lr: constantSchedule(1e-3), allowFallbackAdapter: true, timestamps: true },
  { config: cfg },
);
log(`adapter ${engine.adapter.description} (${engine.adapter.vendor}, ${engine.adapter.architecture})`);
const batches = Array.from({ length: Math.min(steps, 16) }, (_, k) => pangramBatch(B, T, k));

try {
  // The first call builds the shape's plan (buffers, bind groups) and compiles every kernel.
  let p = (await engine.train(initParams(cfg, 0), batches, Math.max(1, warmup))).params;
  const setupS = (performance.now() - t0) / 1000;
  log(`setup + ${Math.max(1, warmup)} warm-up step(s): ${setupS.toFixed(1)} s`);
  engine.stepProfile(true);
  const r = await engine.train(p, batches, steps);
  p = r.params;
  const prof = engine.stepProfile(true);
  const tokensPerS = r.tokens / r.seconds;
  const encodeIdle = await engine.encodeCost(B, T);
  const nParams = countParams(cfg);
  const out: Record<string, unknown> = {
    engine: "webgpu",
    preset,
    params: nParams,
    n_layer: cfg.nLayer,
    n_embd: cfg.nEmbd,
    n_head: cfg.nHead,
    seq_len: T,
    batch: B,
    steps: r.steps,
    tokens_per_s: Math.round(tokensPerS),
    step_ms: +((r.seconds * 1000) / r.steps).toFixed(2),
    kernels_per_step: prof.kernelsPerStep,
    host_ms_per_step: +prof.hostMsPerStep.toFixed(3),
    host_submit_ms_per_step: +prof.submitMsPerStep.toFixed(3),
    host_encode_ms_idle: +encodeIdle.toFixed(3),
    gpu_ms_per_step: prof.gpuMsPerStep === null ? null : +prof.gpuMsPerStep.toFixed(3),
    tflops: +((6 * nParams * tokensPerS) / 1e12).toPrecision(3),
    setup_s: +setupS.toFixed(1),
    final_loss: +r.losses[r.losses.length - 1].toFixed(3),
    adapter: {
      description: engine.adapter.description,
      vendor: engine.adapter.vendor,
      architecture: engine.adapter.architecture,
      device: engine.adapter.device,
      fallback: engine.adapter.isFallbackAdapter,
    },
  };
  if (values.anchor !== "none") Object.assign(out, anchor(values.anchor as "cpu" | "cuda", tokensPerS));
  console.log(JSON.stringify(out));
} finally {
  engine.dispose();
}

/** PyTorch fp32 on the same shapes (torch_gpt.py's Adam; TF32 off), in a child process. */
function anchor(dev: "cpu" | "cuda", ours: number): Record<string, unknown> {
  const candidates = [values.torch, path.resolve("../shared/bench/torch_gpt.py"), "/work/shared/bench/torch_gpt.py"];
  const script = candidates.find((c): c is string => !!c && existsSync(c));
  if (!script) return { anchor_error: "torch_gpt.py not found (--torch)" };
  const python = ["python3", "/usr/bin/python3"].find((p) => spawnSync(p, ["-c", "import torch"]).status === 0);
  if (!python) return { anchor_error: "no python3 with torch" };
  log(`anchor: ${script} DEV=${dev}`);
  const env = {
    ...process.env,
    DEV: dev,
    C: String(cfg.nEmbd),
    L: String(cfg.nLayer),
    H: String(cfg.nHead),
    T: String(T),
    B: String(B),
    STEPS: String(steps),
    TF32: "0",
  };
  const res = spawnSync(python, [script], { env, encoding: "utf8", timeout: 1_800_000 });
  const m = /([\d.]+) tok\/s/.exec(res.stdout ?? "");
  if (!m) return { anchor_error: (res.stderr || res.error?.message || "no RESULT line").trim().split("\n").pop() };
  const theirs = Number(m[1]);
  return {
    anchor: `torch-${dev} fp32`,
    anchor_tokens_per_s: theirs,
    anchor_step_ms: +((B * T * 1000) / theirs).toFixed(2),
    ratio_vs_anchor: +(ours / theirs).toFixed(3),
  };
}
