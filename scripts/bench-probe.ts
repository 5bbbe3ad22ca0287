// The validator's per-update work before the loss evaluations: the update's norm and the probe model
// θ − s·u, from the sparse form (node/sparseloco updateNorm + probeModel, what the scorer does) against
// the dense path it replaced (decompress every tensor, L2 norm, dense subtract). Prints one JSON line
// per preset. npm run bench:probe -- --presets nano,micro,small --reps 5
import { parseArgs } from "node:util";
import { initParams, modelPresets, paramSpecs } from "../node/model/index.ts";
import { l2Norm } from "../node/scoring/index.ts";
import {
  type ParamMap,
  decompressTensor,
  makeUpdate,
  probeModel,
  updateNorm,
  zeroErrorFeedback,
} from "../node/sparseloco/index.ts";
import { prng } from "../tests/fixtures/prng.ts";

const { values } = parseArgs({
  options: { presets: { type: "string", default: "nano,micro,small" }, reps: { type: "string", default: "5" } },
});
const reps = Number(values.reps);
const opts = { topk: 64, beta: 0.95, targetChunk: 64 };

for (const name of values.presets.split(",") as (keyof typeof modelPresets)[]) {
  const config = modelPresets[name];
  const specs = paramSpecs(config);
  const theta = initParams(config, 1);
  const rnd = prng(2);
  const end: ParamMap = new Map([...theta].map(([k, v]) => [k, v.map((x) => x + (rnd() - 0.5) * 1e-3)]));
  const { tensors } = makeUpdate(theta, end, zeroErrorFeedback(specs, theta), specs, opts).update;
  const time = (f: () => unknown) => {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) f();
    return (performance.now() - t0) / reps;
  };
  const sparseMs = time(() => probeModel(theta, tensors, 0.5 / (updateNorm(tensors) + 1e-8), specs));
  const denseMs = time(() => {
    const d = specs.map((s) => decompressTensor(tensors.get(s.name)!, s));
    const n = l2Norm(d);
    const probe: ParamMap = new Map();
    specs.forEach((s, j) => {
      const th = theta.get(s.name)!;
      const out = new Float32Array(th.length);
      for (let i = 0; i < out.length; i++) out[i] = th[i] - (0.5 / (n + 1e-8)) * d[j][i];
      probe.set(s.name, out);
    });
    return probe;
  });
  const params = specs.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
  console.log(
    JSON.stringify({
      bench: "validator-probe",
      preset: name,
      params,
      reps,
      sparseMs: Number(sparseMs.toFixed(2)),
      denseMs: Number(denseMs.toFixed(2)),
    }),
  );
}
