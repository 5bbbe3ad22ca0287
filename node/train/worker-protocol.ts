import type { BackendResult } from "../model/backend.ts";
import type { ParamMap } from "../sparseloco/types.ts";
import type { OptimizerState, TokenBatch } from "./types.ts";

/** Messages from WorkerEngine (main thread) to its worker (engine-worker.ts); `id` pairs a reply. */
export type WorkerRequest = { id: number } & (
  | {
      op: "train";
      params: ParamMap;
      batches: readonly TokenBatch[];
      H: number;
      stepOffset: number;
      /** lr of each of the H steps (the schedule at stepOffset + i). */
      lrs: Float64Array;
      /** Muon's lr of each of the H steps (empty unless the optimizer is muon). */
      muonLrs: Float64Array;
      /** Int32Array(2) over a SharedArrayBuffer: [answered flag, stop decision]. */
      control: SharedArrayBuffer;
    }
  /** Answered with each batch's loss (TrainingEngine.evaluateEach). */
  | { op: "evaluate"; params: ParamMap; batches: readonly TokenBatch[] }
  | { op: "getOptimizerState" }
  | { op: "setOptimizerState"; state: OptimizerState }
  | { op: "resetOptimizerState" }
);

/** Messages from the worker. */
export type WorkerReply =
  | { type: "ready"; backend: BackendResult }
  | { type: "failed"; message: string }
  | { type: "step"; id: number; i: number; loss: number }
  | { type: "ask"; id: number; i: number }
  | { type: "done"; id: number; value: unknown }
  | { type: "error"; id: number; name: string; code?: string; message: string };
