import type { GpuOptions } from "../gpu/options.ts";
import { type BackendAttempt, type BackendResult, initBackend } from "../model/backend.ts";
import type { BackendChoice } from "../model/options.ts";
import { createEngine, type EngineDependencies } from "./engine.ts";
import type { EngineOptions } from "./options.ts";
import type { TrainingEngine } from "./types.ts";

export interface OpenEngineOptions extends Partial<EngineOptions> {
  /** `webgpu`: our WGSL engine (node/gpu); `tensorflow`, `wasm`, `cpu`: tfjs; `auto`: the fastest that works. */
  readonly backend: BackendChoice;
  /** Settings of the WebGPU engine's device (node/gpu/options.ts). */
  readonly gpu?: Partial<GpuOptions>;
}

export interface OpenEngineDependencies extends EngineDependencies {
  readonly log?: (msg: string) => void;
}

export interface OpenedEngine {
  readonly engine: TrainingEngine;
  /** What trains and what was tried before it (with why it failed). */
  readonly backend: BackendResult;
}

/** Order of `auto`: a real GPU through WebGPU, then tfjs-node, wasm, cpu. */
export const ENGINE_AUTO_ORDER = ["webgpu", "tensorflow", "wasm", "cpu"] as const;

async function openWebGpu(o: OpenEngineOptions, deps: OpenEngineDependencies, explicit: boolean) {
  const { WebGpuEngine } = await import("../gpu/engine.ts");
  const { backend: _b, gpu, ...engineOptions } = o;
  // Asked for by name, webgpu takes whatever adapter there is (Mesa's llvmpipe in CI); `auto` wants a
  // real GPU, since a software adapter is slower than the wasm engine.
  const engine = await WebGpuEngine.create(
    { allowFallbackAdapter: explicit, ...engineOptions, ...gpu },
    { config: deps.config },
  );
  const a = engine.adapter;
  if (a.isFallbackAdapter) deps.log?.(`webgpu adapter ${a.description} is a software adapter: expect ~1 GFLOP/s`);
  deps.log?.(`engine: webgpu on ${a.description || a.device} (${a.vendor}, ${a.architecture})`);
  return engine;
}

/**
 * The one place an engine is chosen by backend (roles, doctor, benchmarks and tests all come here).
 * A named backend fails loudly (ModelError BACKEND_UNAVAILABLE, or GpuError NO_ADAPTER explaining a
 * missing GPU); `auto` tries ENGINE_AUTO_ORDER and reports why each earlier choice failed.
 */
export async function openEngine(options: OpenEngineOptions, deps: OpenEngineDependencies): Promise<OpenedEngine> {
  const { backend: choice, gpu: _g, ...engineOptions } = options;
  if (choice === "webgpu") {
    return { engine: await openWebGpu(options, deps, true), backend: { backend: "webgpu", tried: [] } };
  }
  const tried: BackendAttempt[] = [];
  if (choice === "auto") {
    try {
      return { engine: await openWebGpu(options, deps, false), backend: { backend: "webgpu", tried } };
    } catch (e) {
      const error = (e as Error).message.split("\n")[0].slice(0, 240);
      tried.push({ name: "webgpu", error });
      deps.log?.(`webgpu engine skipped: ${error}`);
    }
  }
  const r = await initBackend(choice, deps.log);
  return {
    engine: createEngine(engineOptions, { config: deps.config }),
    backend: { backend: r.backend, tried: [...tried, ...r.tried] },
  };
}
