import { assignSamples, assignmentBatches, heldoutSamples, makeBatches } from "../data/index.ts";
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
import { type SparseUpdate, decompressTensor, selectedCoordinates } from "../sparseloco/index.ts";
import { type ParamMap, type TensorSpec, numel } from "../sparseloco/types.ts";
import type { RunContext } from "./context.ts";
import type { Dropped, Gathered, Received, UpdateInbox } from "./inbox.ts";
import type { ModelState } from "./model-state.ts";

export interface PeerVerdict {
  address: string;
  components: ScoreComponents;
  /** The int16 row for ScoresSubmitted (node/scoring/chain-components.ts). */
  chain: number[];
  lossAfter: number | null;
}

/**
 * Gauntlet-style scoring of every update received for round r (DESIGN step 6): validity (decode,
 * finite, norm within 10× the round's median), exact sync (built on H(θ_r)), copy detection by index
 * overlap with earlier announcements, and the loss gain of θ_r − η·update on held-out samples chosen by
 * a seed the peer could not know, compared with the gain on the peer's own assigned samples.
 */
export async function scoreRound(
  ctx: RunContext,
  state: ModelState,
  received: readonly Received[],
  gathered: readonly Gathered[],
  dropped: readonly Dropped[],
  heldoutSeed: string,
  earlier: ReadonlyMap<string, { round: number; address: string }> = new Map(),
): Promise<{ verdicts: Map<string, PeerVerdict>; lossBefore: number }> {
  const { run, dataset, model, specs, engine } = ctx;
  const T = model.seqLen;
  const bs = run.train.batchSize;
  const held = makeBatches(
    dataset.heldout,
    heldoutSamples(dataset, heldoutSeed, run.validator.heldoutSamples, T),
    bs,
    T,
  );
  const lossBefore = await engine.evaluate(state.params, held);
  const eta = run.sparseloco.alpha * run.validator.evalLrFactor;

  // Decode each update once to dense tensors; norms feed the validity bound and the clip to median.
  const dense = new Map<string, ParamMap>();
  const norms: number[] = [];
  for (const g of gathered) {
    const d: ParamMap = new Map(specs.map((s) => [s.name, decompressTensor(g.update.get(s.name)!, s)]));
    dense.set(g.address, d);
    const v = checkValidity({ tensors: d.values() });
    if (v.valid) norms.push(v.norm);
  }
  const bound = medianNormBound(norms, 10);
  const sortedNorms = [...norms].sort((a, b) => a - b);
  const medianNorm = sortedNorms.length ? sortedNorms[(sortedNorms.length - 1) >> 1] : 0;
  const copies = detectCopies(
    gathered.map((g) => ({ id: g.address, indices: sparseCoordinates(g.update, specs) })),
    run.validator.copyThreshold,
  );

  const verdicts = new Map<string, PeerVerdict>();
  const unscored = (address: string, present: boolean, invalid?: "decode_failed", sync: 0 | 1 = 1) => {
    const c = combineScore({
      present,
      valid: !invalid,
      invalidReason: invalid,
      sync,
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
  for (const d of dropped)
    unscored(d.address, d.reason !== "fetch_failed", d.reason === "decode_failed" ? "decode_failed" : undefined);
  for (const r of received)
    if (!verdicts.has(r.address) && !gathered.some((g) => g.address === r.address)) unscored(r.address, false);

  for (const g of gathered) {
    const d = dense.get(g.address)!;
    const validity = checkValidity({ tensors: d.values() }, bound);
    const sync: 0 | 1 = Buffer.from(g.ann.baseModelHash).toString("hex") === state.hash ? 1 : 0;
    let lossAfter: number | null = null;
    let heldGain = 0;
    let ownGain = 0;
    let proof = -1;
    if (validity.valid && sync === 1) {
      // Evaluate θ_r − η·clip(update): clip to the round's median norm as the aggregator does.
      const scale = validity.norm > 0 ? eta * Math.min(1, medianNorm / (validity.norm + 1e-8)) : 0;
      const probe: ParamMap = new Map();
      for (const s of specs) {
        const theta = state.params.get(s.name)!;
        const u = d.get(s.name)!;
        const out = new Float32Array(theta.length);
        for (let i = 0; i < out.length; i++) out[i] = theta[i] - scale * u[i];
        probe.set(s.name, out);
      }
      lossAfter = await engine.evaluate(probe, held);
      heldGain = heldOutGain(lossBefore, lossAfter);
      const own = ownBatches(ctx, state.round, g.address);
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
  return { verdicts, lossBefore };
}

/**
 * Payload hashes announced in the inbox's earlier rounds (r−8 … r−1), first announcer each: a payload
 * re-announced in a later round is a replay (issue 9) — an honest peer's error feedback never yields
 * the same bytes twice — and is scored as a copy of that earlier update.
 */
export function earlierPayloads(
  inbox: Pick<UpdateInbox, "received">,
  round: number,
): Map<string, { round: number; address: string }> {
  const out = new Map<string, { round: number; address: string }>();
  for (let r = round - 1; r >= Math.max(0, round - 8); r--) {
    for (const x of inbox.received(r))
      out.set(Buffer.from(x.ann.payloadHash).toString("hex"), { round: r, address: x.address });
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

/** A sample of the peer's own assignment for round r (the first `ownSamples` of it). */
function ownBatches(ctx: RunContext, round: number, address: string) {
  const { run, dataset, model } = ctx;
  const a = assignSamples(
    {
      runId: run.runId,
      round,
      address,
      count: run.train.innerSteps * run.train.batchSize,
      seqLen: model.seqLen,
      batchSize: run.train.batchSize,
    },
    dataset,
  );
  const take = { ...a, samples: a.samples.slice(0, run.validator.ownSamples) };
  return assignmentBatches(take, dataset, run.train.batchSize, model.seqLen);
}
