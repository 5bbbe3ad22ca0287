import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import { countParams, initBackend, initParams, ModelError, modelPresets, paramSpecs } from "../../node/model/index.ts";
import { modelHash } from "../../node/sparseloco/hash.ts";

describe("GPT parameters", () => {
  it("presets have the advertised sizes", () => {
    const m = (n: number) => n / 1e6;
    assert.ok(m(countParams(modelPresets.nano)) > 0.15 && m(countParams(modelPresets.nano)) < 0.3);
    assert.ok(m(countParams(modelPresets.micro)) > 1 && m(countParams(modelPresets.micro)) < 3);
    assert.ok(m(countParams(modelPresets.small)) > 18 && m(countParams(modelPresets.small)) < 24);
    assert.ok(m(countParams(modelPresets.base)) > 80 && m(countParams(modelPresets.base)) < 90);
  });
  it("exposes only 1-D and 2-D tensors with unique names in a fixed order", () => {
    const specs = paramSpecs(modelPresets.nano);
    assert.ok(specs.every((s) => s.shape.length === 1 || s.shape.length === 2));
    assert.equal(new Set(specs.map((s) => s.name)).size, specs.length);
    assert.deepEqual(specs[2], { name: "h.0.ln_1.weight", shape: [64] });
    assert.deepEqual(specs[4], { name: "h.0.attn.c_attn.weight", shape: [64, 192] });
    assert.equal(specs.at(-1)!.name, "lm_head.weight");
  });
  it("initialises deterministically from the seed", () => {
    const a = initParams(modelPresets.nano, 42);
    const b = initParams(modelPresets.nano, 42);
    const c = initParams(modelPresets.nano, 43);
    const specs = paramSpecs(modelPresets.nano);
    assert.equal(modelHash(a, specs), modelHash(b, specs));
    assert.notEqual(modelHash(a, specs), modelHash(c, specs));
    const w = a.get("h.0.mlp.c_fc.weight")!;
    const std = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
    assert.ok(Math.abs(std - 0.02) < 0.001, `std ${std}`);
    assert.ok(a.get("h.1.ln_2.weight")!.every((x) => x === 1));
    assert.ok(a.get("h.1.attn.c_attn.bias")!.every((x) => x === 0));
  });
  it("rejects a config whose width does not split into heads", () => {
    assert.throws(
      () => paramSpecs({ ...modelPresets.nano, nHead: 3 }),
      (e: unknown) => e instanceof ModelError && e.code === "BAD_CONFIG",
    );
  });
});

function installed(pkg: string): boolean {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}
// Where tfjs-node does install, auto rightly picks it; this test covers the fallback. (webgpu is not a
// tfjs backend any more: openEngine chooses our own engine, tests/unit/gpu-engine.test.ts.)
const nativeInstalled = installed("@tensorflow/tfjs-node") || installed("@tensorflow/tfjs-node-gpu");

describe("backend selection", () => {
  it("fails loudly for an uninstalled backend and falls through to wasm on auto", {
    skip: nativeInstalled,
  }, async () => {
    await assert.rejects(
      initBackend("tensorflow"),
      (e: unknown) => e instanceof ModelError && e.code === "BACKEND_UNAVAILABLE",
    );
    const logs: string[] = [];
    const r = await initBackend("auto", (m) => logs.push(m));
    assert.equal(r.backend, "wasm");
    assert.deepEqual(
      r.tried.map((t) => t.name),
      ["tensorflow"],
    );
    assert.ok(r.tried.every((t) => t.error.length > 0));
    assert.match(logs[0], /tfjs backend: wasm/);
  });
});

describe("custom gradients", () => {
  it("match central finite differences of the loss", async () => {
    const tf = await import("@tensorflow/tfjs-core");
    const { gptLoss, causalMask } = await import("../../node/model/gpt.ts");
    await initBackend("wasm");
    const cfg = { ...modelPresets.nano, nLayer: 1, nEmbd: 16, nHead: 2, seqLen: 8, initStd: 0.3 };
    const params = initParams(cfg, "fd");
    const specs = paramSpecs(cfg);
    const ids = tf.tensor2d(
      Int32Array.from({ length: 16 }, (_, i) => (i * 37) % 256),
      [2, 8],
      "int32",
    );
    const tg = tf.tensor2d(
      Int32Array.from({ length: 16 }, (_, i) => (i * 11 + 3) % 256),
      [2, 8],
      "int32",
    );
    const mask = causalMask(8);
    const vars = new Map(
      specs.map((s) => [
        s.name,
        tf.variable(tf.tensor(params.get(s.name)!, s.shape as number[]), true, `fd/${s.name}`),
      ]),
    );
    const lossAt = (name: string, i: number, delta: number): number => {
      const v = params.get(name)!.slice();
      v[i] += delta;
      const m = new Map(
        specs.map((s) => [s.name, s.name === name ? tf.tensor(v, s.shape as number[]) : vars.get(s.name)!]),
      );
      return tf.tidy(() => gptLoss(cfg, m, ids, tg, mask).dataSync()[0]);
    };
    const { grads } = tf.variableGrads(() => gptLoss(cfg, vars, ids, tg, mask), [...vars.values()]);
    // One coordinate of each kind of parameter (embedding, LayerNorm, attention, MLP, head).
    const probes: Array<[string, number]> = [
      ["wte.weight", 37 * 16 + 3],
      ["wpe.weight", 5],
      ["h.0.ln_1.weight", 2],
      ["h.0.attn.c_attn.weight", 17],
      ["h.0.attn.c_attn.bias", 40],
      ["h.0.mlp.c_fc.weight", 9],
      ["h.0.mlp.c_proj.bias", 1],
      ["ln_f.bias", 4],
      ["lm_head.weight", 3],
    ];
    for (const [name, i] of probes) {
      const eps = 1e-2;
      const fd = (lossAt(name, i, eps) - lossAt(name, i, -eps)) / (2 * eps);
      const an = grads[`fd/${name}`].dataSync()[i];
      assert.ok(Math.abs(fd - an) <= 0.05 * Math.abs(fd) + 2e-4, `${name}[${i}]: analytic ${an} vs numeric ${fd}`);
    }
    tf.dispose([...vars.values(), ...Object.values(grads), ids, tg, mask]);
  });
});
