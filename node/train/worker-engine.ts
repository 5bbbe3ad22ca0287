import { Worker } from "node:worker_threads";
import type { BackendResult, TfjsBackendChoice } from "../model/backend.ts";
import { ModelError } from "../model/errors.ts";
import { paramSpecs } from "../model/params.ts";
import type { ParamMap, TensorSpec } from "../sparseloco/types.ts";
import type { EngineDependencies } from "./engine.ts";
import { TrainError, type TrainErrorCode } from "./errors.ts";
import type { EngineOptions } from "./options.ts";
import {
  meanLoss,
  type OptimizerState,
  type TokenBatch,
  type TrainCallOptions,
  type TrainingEngine,
  type TrainResult,
} from "./types.ts";
import type { WorkerReply, WorkerRequest } from "./worker-protocol.ts";

const WORKER = new URL("./engine-worker.ts", import.meta.url);

interface Call {
  resolve(v: unknown): void;
  reject(e: Error): void;
  onStep?(i: number, loss: number): void;
  onAsk?(i: number): void;
}

/**
 * The tfjs engine on a worker thread. tfjs on a CPU computes a step synchronously, so on the main thread
 * a step of 1-4 s blocks everything else the node does (gossip, serving payloads, the previous round's
 * gather): peers then miss each other's updates and the validator waits on them. Here the steps run on
 * their own thread and the node's event loop stays free, so communication really overlaps training
 * (docs/roles.md "Off the critical path"). Same interface, numerics and parameter names as TfjsEngine.
 *
 * The caller's `shouldStop` and `onStep` still run on the main thread: the worker asks before every step
 * after the first and waits for the answer (a SharedArrayBuffer + Atomics), and an `onStep` that
 * returns a promise delays the next step until it settles.
 */
export class WorkerEngine implements TrainingEngine {
  readonly kind = "tfjs";
  readonly specs: TensorSpec[];
  private readonly calls = new Map<number, Call>();
  private nextId = 1;
  private disposed = false;

  private constructor(
    private readonly options: EngineOptions,
    private readonly deps: EngineDependencies,
    private readonly worker: Worker,
  ) {
    this.specs = paramSpecs(deps.config);
    worker.on("message", (m: WorkerReply) => this.onMessage(m));
    worker.on("error", (err) => this.failAll(err));
    worker.on("exit", (code) => this.failAll(new Error(`training worker exited (code ${code})`)));
  }

  /** Starts the worker and its tfjs backend (`auto`: tensorflow, wasm, cpu, as initBackend). */
  static async create(
    options: EngineOptions & { backend: TfjsBackendChoice },
    deps: EngineDependencies,
  ): Promise<{ engine: WorkerEngine; backend: BackendResult }> {
    // Functions cannot cross threads: the lr schedules stay here and each train call sends its steps' rates.
    const { backend, lr, muon, ...rest } = options;
    const { lr: _muonLr, ...muonPlain } = muon;
    const plain = { ...rest, muon: muonPlain };
    // The worker loads TypeScript like the main thread does: with tsx's loader.
    const worker = new Worker(WORKER, {
      execArgv: ["--import", import.meta.resolve("tsx")],
      workerData: { backend, config: deps.config, options: plain },
    });
    let resolve!: (b: BackendResult) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<BackendResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const onMessage = (m: WorkerReply) => {
      if (m.type === "ready") resolve(m.backend);
      else if (m.type === "failed") reject(new ModelError("BACKEND_UNAVAILABLE", m.message));
    };
    const onExit = (code: number) => reject(new Error(`training worker exited (code ${code}) before it was ready`));
    worker.on("message", onMessage).on("error", reject).on("exit", onExit);
    const ready = await promise
      .catch(async (err: unknown) => {
        await worker.terminate();
        throw err;
      })
      .finally(() => worker.off("message", onMessage).off("error", reject).off("exit", onExit));
    return { engine: new WorkerEngine({ ...options, lr }, deps, worker), backend: ready };
  }

  get config() {
    return this.deps.config;
  }

  async train(
    params: ParamMap,
    batches: readonly TokenBatch[],
    H: number,
    opts: TrainCallOptions = {},
  ): Promise<TrainResult> {
    this.live();
    if (batches.length === 0 || !(H > 0)) throw new TrainError("BAD_BATCH", "train needs H > 0 and at least one batch");
    const stepOffset = opts.stepOffset ?? 0;
    const lrs = Float64Array.from({ length: H }, (_, i) => this.options.lr(stepOffset + i));
    const muonLrs =
      this.options.optimizer === "muon"
        ? Float64Array.from({ length: H }, (_, i) => this.options.muon.lr(stepOffset + i))
        : new Float64Array(0);
    const control = new SharedArrayBuffer(8);
    const ctl = new Int32Array(control);
    let hook: Promise<unknown> = Promise.resolve();
    let failure: unknown;
    const answer = (stop: boolean) => {
      ctl[1] = stop ? 1 : 0;
      Atomics.store(ctl, 0, 1);
      Atomics.notify(ctl, 0);
    };
    const call: Pick<Call, "onStep" | "onAsk"> = {
      onStep: (i, loss) => {
        try {
          const r: unknown = opts.onStep?.(i, loss);
          if (r instanceof Promise) hook = hook.then(() => r);
        } catch (err) {
          failure ??= err;
        }
      },
      onAsk: (i) => {
        hook.then(
          () => {
            try {
              answer(failure !== undefined || (opts.shouldStop?.(i) ?? false));
            } catch (err) {
              failure ??= err;
              answer(true);
            }
          },
          (err) => {
            failure ??= err;
            answer(true);
          },
        );
      },
    };
    const res = (await this.request(
      { op: "train", params, batches, H, stepOffset, lrs, muonLrs, control },
      call,
    )) as TrainResult;
    // The hook of the last step delays the call's end as it delays a next step.
    const t0 = performance.now();
    await hook.catch((err) => {
      failure ??= err;
    });
    if (failure !== undefined) throw failure;
    return { ...res, seconds: res.seconds + (performance.now() - t0) / 1000 };
  }

  async evaluate(params: ParamMap, batches: readonly TokenBatch[]): Promise<number> {
    return meanLoss(batches, await this.evaluateEach(params, batches));
  }

  async evaluateEach(params: ParamMap, batches: readonly TokenBatch[]): Promise<number[]> {
    this.live();
    return (await this.request({ op: "evaluate", params, batches })) as number[];
  }

  async getOptimizerState(): Promise<OptimizerState> {
    this.live();
    return (await this.request({ op: "getOptimizerState" })) as OptimizerState;
  }

  setOptimizerState(state: OptimizerState): void {
    this.live();
    void this.request({ op: "setOptimizerState", state }).catch(() => {});
  }

  resetOptimizerState(): void {
    this.live();
    void this.request({ op: "resetOptimizerState" }).catch(() => {});
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    void this.worker.terminate();
  }

  private request(req: DistributiveOmit<WorkerRequest, "id">, extra: Pick<Call, "onStep" | "onAsk"> = {}) {
    const id = this.nextId++;
    return new Promise<unknown>((resolve, reject) => {
      this.calls.set(id, { resolve, reject, ...extra });
      this.worker.postMessage({ ...req, id } as WorkerRequest);
    });
  }

  private onMessage(m: WorkerReply): void {
    if (m.type === "ready" || m.type === "failed") return;
    const call = this.calls.get(m.id);
    if (!call) return;
    if (m.type === "step") call.onStep?.(m.i, m.loss);
    else if (m.type === "ask") call.onAsk?.(m.i);
    else {
      this.calls.delete(m.id);
      if (m.type === "done") call.resolve(m.value);
      else
        call.reject(
          m.name === "TrainError" ? new TrainError(m.code as TrainErrorCode, m.message) : new Error(m.message),
        );
    }
  }

  private failAll(err: Error): void {
    for (const c of this.calls.values()) c.reject(this.disposed ? new TrainError("DISPOSED", "engine disposed") : err);
    this.calls.clear();
  }

  private live(): void {
    if (this.disposed) throw new TrainError("DISPOSED", "engine disposed");
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
