import { type Dataset, assignSamples, assignmentBatches, heldoutSamples, makeBatches } from "../data/index.ts";
import { bytesToHex } from "../hash/index.ts";
import type { Metrics } from "../metrics/index.ts";
import { chainComponentsFromScore } from "../scoring/chain-components.ts";
import {
  type ScoreComponents,
  checkValidity,
  combineScore,
  detectCopies,
  heldOutGain,
  medianNormBound,
  proofOfTraining,
} from "../scoring/index.ts";
import {
  type SparseUpdate,
  type TensorSpec,
  lowerMedian,
  numel,
  probeModel,
  selectedCoordinates,
  updateNorm,
} from "../sparseloco/index.ts";
import type { TokenBatch, TrainingEngine } from "../train/index.ts";
import type { Dropped, Gathered, Received } from "./inbox.ts";
import type { ModelState } from "./state-store.ts";

export interface PeerVerdict {
  address: string;
  components: ScoreComponents;
  /** The int16 row for ScoresSubmitted (node/scoring/chain-components.ts). */
  chain: number[];
  lossAfter: number | null;
}

export interface ScorerOptions {
  runId: string;
  seqLen: number;
  batchSize: number;
  /** H: a peer's assignment is H × batchSize samples; the own-sample check takes its first `ownSamples`. */
  innerSteps: number;
  heldoutSamples: number;
  ownSamples: number;
  /** Probe step η = alpha × evalLrFactor. */
  alpha: number;
  evalLrFactor: number;
  copyThreshold: number;
}

export interface ScorerDependencies {
  engine: Pick<TrainingEngine, "evaluate">;
  metrics: Pick<Metrics, "loss" | "scoreOutcomes"> | null;
  dataset: Dataset;
  specs: readonly TensorSpec[];
}

/** One round's updates as the validator gathered them (each payload fetched and decoded once). */
export interface RoundUpdates {
  /** Every announcement of the round, in arrival order. */
  received: readonly Received[];
  gathered: readonly Gathered[];
  dropped: readonly Dropped[];
}

/**
 * Gauntlet-style scoring of every update received for round r (DESIGN step 6): validity (decode,
 * finite, norm within 10× the round's median), exact sync (built on H(θ_r)), copy detection by index
 * overlap with earlier announcements, and the loss gain of θ_r − η·update on held-out samples chosen by
 * a seed the peer could not know, compared with the gain on the peer's own assigned samples. Updates
 * stay in their sparse form: norms come from the centroid tables and each probe changes only the
 * coordinates the update chose.
 */
export class Scorer {
  constructor(
    private readonly opts: ScorerOptions,
    private readonly deps: ScorerDependencies,
  ) {}

  async score(
    state: ModelState,
    round: RoundUpdates,
    heldoutSeed: string,
    earlier: ReadonlyMap<string, { round: number; address: string }> = new Map(),
  ): Promise<{ verdicts: Map<string, PeerVerdict>; lossBefore: number }> {
    const { engine, dataset, specs } = this.deps;
    const { seqLen: T, batchSize: bs } = this.opts;
    const held = makeBatches(dataset.heldout, heldoutSamples(dataset, heldoutSeed, this.opts.heldoutSamples, T), bs, T);
    const lossBefore = await engine.evaluate(state.params, held);
    this.deps.metrics?.loss.set({ kind: "heldout" }, lossBefore);
    const eta = this.opts.alpha * this.opts.evalLrFactor;

    const norms = new Map(round.gathered.map((g) => [g.address, updateNorm(g.update)]));
    const finite = [...norms.values()].filter(Number.isFinite);
    const bound = medianNormBound(finite, 10);
    const medianNorm = finite.length > 0 ? lowerMedian(finite) : 0;
    const copies = detectCopies(
      round.gathered.map((g) => ({ id: g.address, indices: sparseCoordinates(g.update, specs) })),
      this.opts.copyThreshold,
    );

    const verdicts = new Map<string, PeerVerdict>();
    const unscored = (address: string, present: boolean, invalid?: "decode_failed") => {
      const c = combineScore({
        present,
        valid: !invalid,
        invalidReason: invalid,
        sync: 1,
        copyOf: null,
        heldOutGain: 0,
        ownGain: 0,
        proof: -1,
      });
      verdicts.set(address, {
        address,
        components: c,
        chain: chainComponentsFromScore(c, { before: lossBefore, after: null }),
        lossAfter: null,
      });
    };
    for (const d of round.dropped)
      unscored(d.address, d.reason !== "fetch_failed", d.reason === "decode_failed" ? "decode_failed" : undefined);
    const gatheredBy = new Set(round.gathered.map((g) => g.address));
    for (const r of round.received)
      if (!verdicts.has(r.address) && !gatheredBy.has(r.address)) unscored(r.address, false);

    for (const g of round.gathered) {
      const validity = checkValidity({ norm: norms.get(g.address) }, bound);
      const sync: 0 | 1 = bytesToHex(g.ann.baseModelHash) === state.hash ? 1 : 0;
      let lossAfter: number | null = null;
      let heldGain = 0;
      let ownGain = 0;
      let proof = -1;
      if (validity.valid && sync === 1) {
        // Evaluate θ_r − η·clip(update): clip to the round's median norm as the aggregator does.
        const scale = validity.norm > 0 ? eta * Math.min(1, medianNorm / (validity.norm + 1e-8)) : 0;
        const probe = probeModel(state.params, g.update, scale, specs);
        lossAfter = await engine.evaluate(probe, held);
        heldGain = heldOutGain(lossBefore, lossAfter);
        const own = this.ownBatches(state.round, g.address);
        const ownBefore = await engine.evaluate(state.params, own);
        const ownAfter = await engine.evaluate(probe, own);
        ownGain = heldOutGain(ownBefore, ownAfter);
        // Continuous, not Templar's binary sign: on one homogeneous corpus own and held-out gains of an
        // honest small model differ by noise, and a coin flip must not zero an honest peer's round.
        proof = proofOfTraining(ownGain, heldGain, "continuous");
      }
      const components = combineScore({
        present: true,
        valid: validity.valid,
        invalidReason: validity.reason,
        sync,
        copyOf: copies.get(g.address)?.copyOf ?? replayOf(earlier.get(g.payloadHash)),
        heldOutGain: heldGain,
        ownGain,
        proof,
      });
      verdicts.set(g.address, {
        address: g.address,
        components,
        chain: chainComponentsFromScore(components, { before: lossBefore, after: lossAfter }),
        lossAfter,
      });
    }
    for (const v of verdicts.values()) this.deps.metrics?.scoreOutcomes.inc({ reason: v.components.reason });
    return { verdicts, lossBefore };
  }

  /** A sample of the peer's own assignment for round r (the first `ownSamples` of it). */
  private ownBatches(round: number, address: string): TokenBatch[] {
    const { runId, innerSteps, batchSize, seqLen, ownSamples } = this.opts;
    const a = assignSamples(
      { runId, round, address, count: innerSteps * batchSize, seqLen, batchSize },
      this.deps.dataset,
    );
    return assignmentBatches({ ...a, samples: a.samples.slice(0, ownSamples) }, this.deps.dataset, batchSize, seqLen);
  }
}

/**
 * Payload hashes announced in the inbox's earlier rounds (r−8 … r−1), first announcer each: a payload
 * re-announced in a later round is a replay (issue 9) — an honest peer's error feedback never yields
 * the same bytes twice — and is scored as a copy of that earlier update.
 */
export function earlierPayloads(
  inbox: { received(round: number): readonly Received[] },
  round: number,
): Map<string, { round: number; address: string }> {
  const out = new Map<string, { round: number; address: string }>();
  for (let r = round - 1; r >= Math.max(0, round - 8); r--) {
    for (const x of inbox.received(r)) out.set(bytesToHex(x.ann.payloadHash), { round: r, address: x.address });
  }
  return out;
}

function replayOf(e: { round: number; address: string } | undefined): string | null {
  return e === undefined ? null : `${e.address}@${e.round}`;
}

/**
 * Chosen coordinates of the tensors where selection is sparse (k < chunk size). Dense-sent tensors
 * (1-D chunks of ≤ 64 values with k = 64) choose every index, so they would make any two honest
 * updates look like copies of each other.
 */
function sparseCoordinates(update: SparseUpdate, specs: readonly TensorSpec[]): Map<string, Uint32Array> {
  const all = selectedCoordinates(update, specs);
  for (const s of specs) {
    const t = update.get(s.name)!;
    const chunks = t.chunkGrid.reduce((a, b) => a * b, 1);
    if (t.k >= numel(s.shape) / chunks) all.delete(s.name);
  }
  return all;
}
