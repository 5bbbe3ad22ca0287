import assert from "node:assert/strict";
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
    assert.throws(() => paramSpecs({ ...modelPresets.nano, nHead: 3 }), (e: unknown) => e instanceof ModelError && e.code === "BAD_CONFIG");
  });
});

describe("backend selection", () => {
  it("fails loudly for an uninstalled backend and falls through to wasm on auto", async () => {
    await assert.rejects(initBackend("tensorflow"), (e: unknown) => e instanceof ModelError && e.code === "BACKEND_UNAVAILABLE");
    const logs: string[] = [];
    const r = await initBackend("auto", (m) => logs.push(m));
    assert.equal(r.backend, "wasm");
    assert.deepEqual(
      r.tried.map((t) => t.name),
      ["tensorflow", "webgpu"],
    );
    assert.ok(r.tried.every((t) => t.error.length > 0));
    assert.match(logs[0], /tfjs backend: wasm/);
  });
});
