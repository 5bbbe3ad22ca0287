import { createRequire } from "node:module";
import path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { ModelError } from "./errors.ts";
import type { BackendChoice } from "./options.ts";

export interface BackendAttempt {
  readonly name: Exclude<BackendChoice, "auto">;
  readonly error: string;
}
export interface BackendResult {
  /** The backend now training: "webgpu" (our WGSL engine, node/gpu) or a tfjs backend ("tensorflow", "wasm", "cpu"). */
  readonly backend: string;
  /** Backends tried before it and why each failed (empty when the first choice worked). */
  readonly tried: BackendAttempt[];
}

/** The tfjs backends; `webgpu` is not one of them: it is our own engine (node/gpu), chosen by openEngine. */
export type TfjsBackendChoice = Exclude<BackendChoice, "webgpu">;

/** Order of `auto` among the tfjs backends: fastest first (tfjs-node where it installs, then wasm, cpu). */
export const AUTO_ORDER = ["tensorflow", "wasm", "cpu"] as const;

const require = createRequire(import.meta.url);
// Package names held in variables: they are optional installs, so neither tsc nor tsx may resolve them
// statically.
const TFJS_NODE_GPU = "@tensorflow/tfjs-node-gpu";
const TFJS_NODE = "@tensorflow/tfjs-node";

async function loadTensorflow(): Promise<void> {
  const errs: string[] = [];
  for (const pkg of [TFJS_NODE_GPU, TFJS_NODE]) {
    try {
      await import(pkg);
      if (await tf.setBackend("tensorflow")) return;
      errs.push(`${pkg}: setBackend returned false`);
    } catch (e) {
      errs.push(`${pkg}: ${short(e)}`);
    }
  }
  throw new Error(errs.join("; "));
}

async function loadWasm(): Promise<void> {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  // The .wasm binaries ship in the package; a file-path prefix keeps the load offline (no CDN).
  const dir = path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm"));
  wasm.setWasmPaths(`${dir}${path.sep}`);
  if (!(await tf.setBackend("wasm"))) throw new Error("setBackend('wasm') returned false");
}

async function loadCpu(): Promise<void> {
  await import("@tensorflow/tfjs-backend-cpu");
  if (!(await tf.setBackend("cpu"))) throw new Error("setBackend('cpu') returned false");
}

const loaders: Record<Exclude<TfjsBackendChoice, "auto">, () => Promise<void>> = {
  tensorflow: loadTensorflow,
  wasm: loadWasm,
  cpu: loadCpu,
};

/**
 * Selects the tfjs backend once at start. `auto` tries tensorflow, wasm, cpu in that order and reports
 * why each earlier one failed; a named choice fails loudly instead of silently falling back. Engines are
 * chosen by node/train's openEngine, which calls this for the tfjs ones.
 */
export async function initBackend(choice: TfjsBackendChoice, log?: (msg: string) => void): Promise<BackendResult> {
  const order = choice === "auto" ? AUTO_ORDER : [choice];
  const tried: BackendAttempt[] = [];
  for (const name of order) {
    try {
      await loaders[name]();
      await tf.ready();
      log?.(
        `tfjs backend: ${tf.getBackend()}${tried.length ? ` (skipped ${tried.map((t) => `${t.name}: ${t.error}`).join("; ")})` : ""}`,
      );
      return { backend: tf.getBackend(), tried };
    } catch (e) {
      tried.push({ name, error: short(e) });
    }
  }
  throw new ModelError(
    "BACKEND_UNAVAILABLE",
    `no tfjs backend for ${choice}: ${tried.map((t) => `${t.name}: ${t.error}`).join("; ")}`,
  );
}

function short(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split("\n")[0].slice(0, 240);
}
