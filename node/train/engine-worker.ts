// The worker side of WorkerEngine (worker-engine.ts): a TfjsEngine on its own thread, driven by messages.
import "../polyfill.ts";
import { parentPort, workerData } from "node:worker_threads";
import { initBackend, type TfjsBackendChoice } from "../model/backend.ts";
import type { GPTConfig } from "../model/options.ts";
import { TfjsEngine } from "./engine.ts";
import { TrainError } from "./errors.ts";
import type { EngineOptions } from "./options.ts";
import type { WorkerReply, WorkerRequest } from "./worker-protocol.ts";

const init = workerData as {
  backend: TfjsBackendChoice;
  config: GPTConfig;
  options: Omit<EngineOptions, "lr" | "muon"> & { muon: Omit<EngineOptions["muon"], "lr"> };
};
const port = parentPort!;
const post = (m: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

// The lr of global step g is lrs[g − lrOffset]: the main thread sends the rates of each call's steps,
// computed from the run's schedule there (a function cannot cross threads).
let lrs: Float64Array = new Float64Array(0);
let lrOffset = 0;
let muonLrs: Float64Array = new Float64Array(0);
const sent = (rates: () => Float64Array, what: string) => (g: number) => {
  const v = rates()[g - lrOffset];
  if (v === undefined) throw new TrainError("BAD_BATCH", `no ${what} sent for inner step ${g}`);
  return v;
};
const lr = sent(() => lrs, "lr");
const muonLr = sent(() => muonLrs, "muon lr");

let engine: TfjsEngine;
try {
  const backend = await initBackend(init.backend);
  engine = new TfjsEngine({ ...init.options, lr, muon: { ...init.options.muon, lr: muonLr } }, { config: init.config });
  post({ type: "ready", backend });
} catch (err) {
  post({ type: "failed", message: (err as Error).message ?? String(err) });
  process.exit(1);
}

port.on("message", async (req: WorkerRequest) => {
  try {
    switch (req.op) {
      case "train": {
        lrs = req.lrs;
        muonLrs = req.muonLrs;
        lrOffset = req.stepOffset;
        const ctl = new Int32Array(req.control);
        // Asks the main thread before every step after the first; it answers in ctl[1] (1 = stop) and
        // wakes this thread through ctl[0]. It runs the caller's shouldStop and waits for its onStep.
        const ask = (i: number): boolean => {
          post({ type: "ask", id: req.id, i });
          Atomics.wait(ctl, 0, 0);
          const stop = ctl[1] === 1;
          Atomics.store(ctl, 0, 0);
          return stop;
        };
        const res = await engine.train(req.params, req.batches, req.H, {
          stepOffset: req.stepOffset,
          shouldStop: ask,
          onStep: (i, loss) => {
            post({ type: "step", id: req.id, i, loss });
          },
        });
        post(
          { type: "done", id: req.id, value: res },
          [...res.params.values()].map((a) => a.buffer as ArrayBuffer),
        );
        return;
      }
      case "evaluate":
        post({ type: "done", id: req.id, value: await engine.evaluateEach(req.params, req.batches) });
        return;
      case "getOptimizerState":
        post({ type: "done", id: req.id, value: await engine.getOptimizerState() });
        return;
      case "setOptimizerState":
        engine.setOptimizerState(req.state);
        post({ type: "done", id: req.id, value: null });
        return;
      case "resetOptimizerState":
        engine.resetOptimizerState();
        post({ type: "done", id: req.id, value: null });
        return;
    }
  } catch (err) {
    const e = err as Error & { code?: string };
    post({ type: "error", id: req.id, name: e.name, code: e.code, message: e.message ?? String(err) });
  }
});
