/**
 * The learning benchmark's simulation: K peers in one process, trained at equal tokens through the
 * functions the network runs (assignSamples, the TrainingEngine, compressTensor, encodeUpdate /
 * decodeUpdate, aggregate, outerStep; the dense DiLoCo baseline's encode/decode, mean and Nesterov step).
 * AdamW-DDP is the yardstick: one engine on the K peers' batches concatenated, one step per inner step.
 */
import { assignmentBatches, assignSamples, type Dataset } from "../../node/data/index.ts";
import { type GPTConfig, initParams, paramSpecs } from "../../node/model/index.ts";
import {
  type AggregateReduce,
  aggregate,
  compressTensor,
  DiLoCoOuter,
  decodeDenseUpdate,
  decodeUpdate,
  encodeDenseUpdate,
  encodeUpdate,
  numel,
  type OuterLrSchedule,
  outerStep,
  type ParamMap,
  roundCompression,
  type SparseLocoOptions,
  type SparseUpdate,
} from "../../node/sparseloco/index.ts";
import {
  createEngine,
  type EngineOptions,
  type InnerOptimizer,
  type TokenBatch,
  type TrainingEngine,
} from "../../node/train/index.ts";

export type OuterKind = "ddp" | "diloco" | "sparseloco";

export interface MethodSpec {
  readonly outer: OuterKind;
  readonly optimizer: InnerOptimizer;
}

/** Display name: the papers' names (MuLoCo = Muon inner + SparseLoCo-style compression with EF). */
export function methodLabel(m: MethodSpec): string {
  const names = { ddp: "DDP", diloco: "DiLoCo", sparseloco: "SparseLoCo" } as const;
  if (m.outer === "sparseloco" && m.optimizer === "muon") return "MuLoCo";
  const opt = m.optimizer === "muon" ? "Muon" : "AdamW";
  return m.outer === "ddp" ? `${opt}-DDP` : m.optimizer === "muon" ? `Muon-${names[m.outer]}` : names[m.outer];
}

export interface SimSetup {
  readonly model: GPTConfig;
  readonly dataset: Dataset;
  readonly heldout: readonly TokenBatch[];
  readonly seed: string;
  readonly runId: string;
  /** Peers. */
  readonly K: number;
  /** Sequences per peer per inner step. */
  readonly batch: number;
  /** Tokens per sequence (<= the model's seqLen). */
  readonly seqLen: number;
  /** Inner steps per round. */
  readonly H: number;
  readonly rounds: number;
  /** Evaluate every this many rounds (and after the last). */
  readonly evalEvery: number;
  /** More rounds after which to evaluate (e.g. a data stage's end). */
  readonly evalRounds?: readonly number[];
  /**
   * The data of round r (default: `dataset`, no replay). Continual pre-training (bench:continual) switches
   * the dataset by stage and draws `replay.fraction` of every batch from an earlier one, as assignSamples does.
   */
  readonly data?: (round: number) => RoundData;
  /** Held-out sets evaluated besides `heldout` at every evaluation, by name (EvalPoint.heldoutBy). */
  readonly heldoutSets?: Readonly<Record<string, readonly TokenBatch[]>>;
  /** Engine options for the local methods and for DDP (DDP sees K times the batch, so its lr may differ). */
  readonly engine: (m: MethodSpec) => Partial<EngineOptions>;
  readonly sparse: SparseLocoOptions & { readonly reduce: AggregateReduce };
  /** EF warm-up: rounds (from 0) that keep every value of every chunk (2-bit, dense) before top-k applies. */
  readonly denseRounds: number;
  readonly alpha: OuterLrSchedule;
  readonly diloco: { readonly lr: number; readonly momentum: number };
}

export interface RoundData {
  readonly dataset: Dataset;
  readonly replay?: { readonly dataset: Dataset; readonly fraction: number };
}

export interface EvalPoint {
  readonly round: number;
  readonly tokens: number;
  readonly heldout: number;
  /** Loss on each of `heldoutSets`, when the setup has any. */
  readonly heldoutBy?: Readonly<Record<string, number>>;
  /** Seconds of training and communication work so far (evaluation excluded). */
  readonly wallSeconds: number;
}

export interface MethodResult {
  readonly label: string;
  readonly spec: MethodSpec;
  readonly points: EvalPoint[];
  /** Mean encoded update per peer per round (DDP: the fp32 gradient of each of the H steps). */
  readonly bytesPerPeerPerRound: number;
  readonly wallSeconds: number;
  /** Of wallSeconds: compress, encode, decode, aggregate and outer step. */
  readonly outerSeconds: number;
}

export function peerAddress(p: number): string {
  return `0x${(p + 1).toString(16).padStart(40, "0")}`;
}

/** Peer p's H batches of round r: the network's own deterministic assignment. */
function peerBatches(s: SimSetup, round: number, p: number): TokenBatch[] {
  const { dataset, replay } = s.data?.(round) ?? { dataset: s.dataset };
  const a = assignSamples(
    {
      runId: s.runId,
      round,
      address: peerAddress(p),
      count: s.H * s.batch,
      batchSize: s.batch,
      seqLen: s.seqLen,
      ...(replay ? { replay } : {}),
    },
    dataset,
  );
  return assignmentBatches(a, dataset, s.batch, s.seqLen, replay?.dataset);
}

/** The K peers' i-th batches side by side: what synchronous data parallelism averages over. */
function concatBatches(perPeer: TokenBatch[][], i: number): TokenBatch {
  const parts = perPeer.map((bs) => bs[i]);
  const n = parts.reduce((a, b) => a + b.inputs.length, 0);
  const inputs = new Int32Array(n);
  const targets = new Int32Array(n);
  let o = 0;
  for (const b of parts) {
    inputs.set(b.inputs, o);
    targets.set(b.targets, o);
    o += b.inputs.length;
  }
  return { batch: parts.reduce((a, b) => a + b.batch, 0), seqLen: parts[0].seqLen, inputs, targets };
}

function subtract(a: ParamMap, b: ParamMap): ParamMap {
  const out: ParamMap = new Map();
  for (const [name, x] of a) {
    const y = b.get(name)!;
    const d = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) d[i] = x[i] - y[i];
    out.set(name, d);
  }
  return out;
}

/**
 * Runs one method for `rounds` rounds of H inner steps per peer and reports held-out loss at equal
 * tokens. `onEval` sees every evaluation as it happens (the bench prints it as a JSON line).
 */
export async function runMethod(s: SimSetup, spec: MethodSpec, onEval: (p: EvalPoint) => void): Promise<MethodResult> {
  const specs = paramSpecs(s.model);
  const evalEngine = createEngine(s.engine(spec), { config: s.model });
  const nPeers = spec.outer === "ddp" ? 1 : s.K;
  const engines: TrainingEngine[] = Array.from({ length: nPeers }, () =>
    createEngine(s.engine(spec), { config: s.model }),
  );
  const theta = initParams(s.model, s.seed);
  const ef: ParamMap[] = engines.map(() => new Map(specs.map((t) => [t.name, new Float32Array(numel(t.shape))])));
  const diloco = new DiLoCoOuter({ dilocoLr: s.diloco.lr, dilocoMomentum: s.diloco.momentum }, { specs });
  const tokensPerRound = s.K * s.batch * s.seqLen * s.H;
  const points: EvalPoint[] = [];
  let wall = 0;
  let outerSeconds = 0;
  let bytes = 0;
  let sends = 0;
  const evaluate = async (round: number) => {
    let heldoutBy: Record<string, number> | undefined;
    if (s.heldoutSets) {
      heldoutBy = {};
      for (const [name, batches] of Object.entries(s.heldoutSets))
        heldoutBy[name] = await evalEngine.evaluate(theta, batches);
    }
    const p: EvalPoint = {
      round,
      tokens: round * tokensPerRound,
      heldout: await evalEngine.evaluate(theta, s.heldout),
      ...(heldoutBy ? { heldoutBy } : {}),
      wallSeconds: wall,
    };
    points.push(p);
    onEval(p);
  };
  try {
    await evaluate(0);
    for (let r = 0; r < s.rounds; r++) {
      const perPeer = Array.from({ length: s.K }, (_, p) => peerBatches(s, r, p));
      const t0 = performance.now();
      if (spec.outer === "ddp") {
        const batches = Array.from({ length: s.H }, (_, i) => concatBatches(perPeer, i));
        const res = await engines[0].train(theta, batches, s.H, { stepOffset: r * s.H });
        for (const [name, v] of res.params) theta.get(name)!.set(v);
        // One fp32 gradient all-reduce per inner step.
        bytes += s.H * 4 * specs.reduce((a, t) => a + numel(t.shape), 0);
        sends++;
      } else {
        const deltas: ParamMap[] = [];
        for (let p = 0; p < nPeers; p++) {
          const res = await engines[p].train(theta, perPeer[p], s.H, { stepOffset: r * s.H });
          deltas.push(subtract(theta, res.params)); // Δ = θ_r − θ_end: descent is −Δ
        }
        const t1 = performance.now();
        if (spec.outer === "diloco") {
          const byPeer = new Map<string, ParamMap>();
          deltas.forEach((d, p) => {
            const wire = encodeDenseUpdate(d, specs);
            bytes += wire.length;
            sends++;
            byPeer.set(peerAddress(p), decodeDenseUpdate(wire, specs));
          });
          diloco.step(theta, DiLoCoOuter.mean(byPeer, specs));
        } else {
          const byPeer = new Map<string, SparseUpdate>();
          const o = roundCompression({ ...s.sparse, denseRounds: s.denseRounds }, r);
          deltas.forEach((d, p) => {
            const wire = encodeUpdate(specs.map((t) => compressTensor(d.get(t.name)!, ef[p].get(t.name)!, t, o)));
            bytes += wire.length;
            sends++;
            byPeer.set(peerAddress(p), decodeUpdate(wire, specs, o));
          });
          outerStep(theta, aggregate(byPeer, specs, o), s.alpha(r));
        }
        outerSeconds += (performance.now() - t1) / 1000;
      }
      wall += (performance.now() - t0) / 1000;
      if ((r + 1) % s.evalEvery === 0 || r + 1 === s.rounds || s.evalRounds?.includes(r + 1)) await evaluate(r + 1);
    }
  } finally {
    for (const e of engines) e.dispose();
    evalEngine.dispose();
  }
  return {
    label: methodLabel(spec),
    spec,
    points,
    bytesPerPeerPerRound: Math.round(bytes / Math.max(1, sends)),
    wallSeconds: wall,
    outerSeconds,
  };
}
