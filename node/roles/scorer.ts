import {
  type Dataset,
  assignSamples,
  assignmentBatches,
  heldoutSamples,
  makeBatches,
  scoringWindows,
} from "../data/index.ts";
import { bytesToHex, sha256 } from "../hash/index.ts";
import type { Metrics } from "../metrics/index.ts";
import { Xoshiro128 } from "../model/params.ts";
import { chainComponentsFromScore } from "../scoring/chain-components.ts";
import {
  type ScoreComponents,
  checkValidity,
  combineScore,
  type RoundCopyVerdict,
  DENSE_COPY_AGREEMENT,
  denseLevels,
  densePositions,
  detectCopies,
  detectDenseCopies,
  heldOutGain,
  medianNormBound,
  ownSampleGain,
  proofOfTraining,
} from "../scoring/index.ts";
import {
  type SparseUpdate,
  type TensorSpec,
  isDenseRound,
  lowerMedian,
  numel,
  probeModel,
  selectedCoordinates,
  updateNorm,
} from "../sparseloco/index.ts";
import type { TokenBatch, TrainingEngine } from "../train/index.ts";
import type { Dropped, Gathered, Received } from "./inbox.ts";
import type { RoundData, StageSource } from "./stage-plan.ts";
import type { ModelState } from "./state-store.ts";

export interface PeerVerdict {
  address: string;
  components: ScoreComponents;
  /** The int16 row for ScoresSubmitted (node/scoring/chain-components.ts). */
  chain: number[];
  lossAfter: number | null;
  /** The samples the update says it trained on (its own-sample check took a prefix of those). */
  samples?: number;
  /** Seconds from the arrival cutoff (deadline + grace) to when the announcement first arrived (< 0: in time). */
  arrival?: number;
}

export interface ScorerOptions {
  runId: string;
  seqLen: number;
  batchSize: number;
  /**
   * H: a peer's assignment stream is at most H × batchSize samples; its update trained on the first
   * `samples` of them (the announced count), and the own-sample check draws `ownSamples` of those.
   */
  innerSteps: number;
  heldoutSamples: number;
  ownSamples: number;
  /** Probe step η = alpha × evalLrFactor. */
  alpha: number;
  evalLrFactor: number;
  copyThreshold: number;
  /**
   * EF warm-up rounds (run config `sparseloco.denseRounds`): their updates keep every coordinate, so
   * index overlap says nothing; copies are found by level agreement there (node/scoring/dense-copies.ts).
   */
  denseRounds?: number;
}

export interface ScorerDependencies {
  engine: Pick<TrainingEngine, "evaluate" | "evaluateEach">;
  metrics: Pick<Metrics, "loss" | "scoreOutcomes"> | null;
  /** The one dataset of a run without stages (used when `stages` is absent). */
  dataset: Dataset;
  /**
   * The round's stage data (stage-plan.ts): own samples and held-out come from the round's stage, and
   * the validator reports θ_r's held-out loss on every stage in effect up to the round
   * (`stageDatasets`; docs/explorer.md "Held-out loss per stage"), so forgetting of earlier stages shows.
   */
  stages?: StageSource;
  specs: readonly TensorSpec[];
}

/** One round's updates as the validator gathered them (each payload fetched and decoded once). */
export interface RoundUpdates {
  /** Every announcement of the round, in arrival order. */
  received: readonly Received[];
  gathered: readonly Gathered[];
  dropped: readonly Dropped[];
  /** Authors proven to have signed two different announcements for the round (inbox evidence). */
  equivocators?: ReadonlySet<string>;
}

/**
 * How a validator spends its round on scoring (issue 16): the gather set first (those updates make
 * θ_{r+1}), then everyone else in an order drawn from the round's seed, evaluating until the time left
 * would not fit one more update. Peers left over are "not_evaluated" (score 0, ratings untouched).
 */
export interface ScoringPlan {
  /** Scored first, in arrival order: the round's gather set. */
  first?: ReadonlySet<string>;
  /** Seconds left for evaluations; absent = no budget. */
  secondsLeft?: () => number;
  /**
   * Wall-clock ms (Date.now()) after which a first-seen announcement is late: set only when the
   * validator was listening before the submission deadline (after a restart, arrival times are unknown).
   */
  lateAfterMs?: number;
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
    plan: ScoringPlan = {},
  ): Promise<{
    verdicts: Map<string, PeerVerdict>;
    /** θ_r's loss on the round's scoring windows, against which every update's gain is measured. */
    lossBefore: number;
    /** θ_r's loss on the current stage's held-out split (reported: logs, metrics, explorer). */
    heldOutLoss: number;
    evaluated: number;
    /** θ_r's held-out loss per stage in effect up to the round (null: the time budget ran out first). */
    stageHeldOut: (number | null)[];
  }> {
    const { engine, specs } = this.deps;
    const data: Pick<RoundData, "dataset" | "replay" | "stageDatasets"> = this.deps.stages
      ? await this.deps.stages.at(state.round)
      : { dataset: this.deps.dataset, replay: undefined, stageDatasets: [this.deps.dataset] };
    const { dataset } = data;
    const authors = new Set(round.received.map((r) => r.address));
    const held = this.scoringBatches(data, state.round, authors, heldoutSeed);
    const tHeld = performance.now();
    const lossBefore = await engine.evaluate(state.params, held);
    const heldSeconds = (performance.now() - tHeld) / 1000;
    // The held-out split measures θ_r for the record (it is public, so it does not score anyone).
    const heldOutLoss = await engine.evaluate(state.params, this.heldoutBatches(dataset, heldoutSeed));
    this.deps.metrics?.loss.set({ kind: "heldout" }, heldOutLoss);
    const eta = this.opts.alpha * this.opts.evalLrFactor;

    const norms = new Map(round.gathered.map((g) => [g.address, updateNorm(g.update)]));
    const finite = [...norms.values()].filter(Number.isFinite);
    const bound = medianNormBound(finite, 10);
    const medianNorm = finite.length > 0 ? lowerMedian(finite) : 0;
    const copies = isDenseRound(this.opts.denseRounds, state.round)
      ? denseCopies(round.gathered, specs, heldoutSeed)
      : detectCopies(
          round.gathered.map((g) => ({ id: g.address, indices: sparseCoordinates(g.update, specs) })),
          this.opts.copyThreshold,
          new Map(specs.map((s) => [s.name, numel(s.shape)])),
        );

    const verdicts = new Map<string, PeerVerdict>();
    const equivocators = round.equivocators ?? new Set<string>();
    const arrivedAt = new Map(round.received.map((r) => [r.address, r.receivedAt]));
    /** Seconds from the arrival cutoff to the announcement's first sight; undefined when either is unknown. */
    const arrival = (address: string): number | undefined => {
      const at = arrivedAt.get(address);
      return plan.lateAfterMs === undefined || at === undefined ? undefined : (at - plan.lateAfterMs) / 1000;
    };
    const late = (address: string) => (arrival(address) ?? Number.NEGATIVE_INFINITY) > 0;
    const unscored = (address: string, present: boolean, invalid?: "decode_failed") => {
      const c = combineScore({
        present,
        equivocated: present && equivocators.has(address),
        late: present && late(address),
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

    // Cheap checks for every update first (no evaluation): validity, sync, copies, arrival, equivocation.
    const checked = round.gathered.map((g) => {
      const validity = checkValidity({ norm: norms.get(g.address) }, bound);
      const sync: 0 | 1 = bytesToHex(g.ann.baseModelHash) === state.hash ? 1 : 0;
      const inputs = {
        present: true,
        valid: validity.valid,
        invalidReason: validity.reason,
        sync,
        copyOf: copies.get(g.address)?.copyOf ?? replayOf(earlier.get(g.payloadHash)),
        equivocated: equivocators.has(g.address),
        late: late(g.address),
      };
      // Only an update that could still earn is worth the three evaluations.
      const worth = combineScore({ ...inputs, heldOutGain: 1, ownGain: 1, proof: 1 }).final > 0;
      return { g, validity, inputs, worth };
    });
    const first = plan.first ?? new Set<string>();
    const order = (address: string) => sha256(new TextEncoder().encode(`${heldoutSeed}/${address}`));
    const queue = [
      ...checked.filter((c) => first.has(c.g.address)),
      ...checked
        .filter((c) => !first.has(c.g.address))
        .map((c) => ({ c, key: order(c.g.address) }))
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
        .map(({ c }) => c),
    ];
    // The first evaluation's cost is estimated from θ_r's held-out pass just timed: one held-out pass
    // and two passes over at most ownSamples of the peer's samples. Starting it blind let one update
    // outlast the whole window (seen: 14 s on tfjs-cpu against 12 s), and then nothing was submitted.
    let slowest = heldSeconds * (1 + (2 * this.opts.ownSamples) / this.opts.heldoutSamples);
    let evaluated = 0;
    for (const { g, validity, inputs, worth } of queue) {
      // NaN = not measured (COMPONENT_UNSET on chain), not a gain of 0
      let lossAfter: number | null = null;
      let heldGain = Number.NaN;
      let ownGain = Number.NaN;
      let proof = -1;
      let measured = !worth;
      if (worth && !(plan.secondsLeft && plan.secondsLeft() < slowest)) {
        const t0 = performance.now();
        // Evaluate θ_r − η·clip(update): clip to the round's median norm as the aggregator does.
        const scale = validity.norm > 0 ? eta * Math.min(1, medianNorm / (validity.norm + 1e-8)) : 0;
        const probe = probeModel(state.params, g.update, scale, specs);
        lossAfter = await engine.evaluate(probe, held);
        heldGain = heldOutGain(lossBefore, lossAfter);
        const own = this.ownBatches(data, state.round, g.address, g.ann.samples, heldoutSeed);
        ownGain = ownSampleGain(await engine.evaluateEach(state.params, own), await engine.evaluateEach(probe, own));
        // Continuous, not Templar's binary sign: on one homogeneous corpus own and held-out gains of an
        // honest small model differ by noise, and a coin flip must not zero an honest peer's round.
        proof = proofOfTraining(ownGain, heldGain, "continuous");
        slowest = Math.max(slowest, (performance.now() - t0) / 1000);
        measured = true;
        evaluated++;
      }
      const components = combineScore({ ...inputs, heldOutGain: heldGain, ownGain, proof, evaluated: measured });
      verdicts.set(g.address, {
        address: g.address,
        components,
        chain: chainComponentsFromScore(components, { before: lossBefore, after: lossAfter }),
        lossAfter,
        samples: g.ann.samples,
        arrival: arrival(g.address),
      });
    }
    for (const v of verdicts.values()) this.deps.metrics?.scoreOutcomes.inc({ reason: v.components.reason });
    const stageHeldOut = await this.stageLosses(data, state, heldoutSeed, heldOutLoss, heldSeconds, plan);
    return { verdicts, lossBefore, heldOutLoss, evaluated, stageHeldOut };
  }

  /**
   * `heldoutSamples` scoring windows (node/data `scoringWindows`): windows of the training split chosen
   * by the round's held-out seed, none overlapping a window that round `round` assigned to an author of
   * one of its updates (the whole assignment, H × batch, whatever prefix was announced).
   */
  private scoringBatches(
    data: Pick<RoundData, "dataset" | "replay">,
    round: number,
    authors: ReadonlySet<string>,
    seed: string,
  ): TokenBatch[] {
    const { runId, innerSteps, batchSize, seqLen, heldoutSamples: n } = this.opts;
    const { dataset, replay } = data;
    const count = innerSteps * batchSize;
    const assigned = [...authors].flatMap((address) =>
      assignSamples({ runId, round, address, count, seqLen, batchSize, replay }, dataset)
        .samples.filter((x) => x.source === "main")
        .map((x) => x.offset),
    );
    return makeBatches(dataset.train, scoringWindows(dataset, seed, n, seqLen, assigned).offsets, batchSize, seqLen);
  }

  /** `heldoutSamples` windows of a dataset's held-out split, chosen by the round's held-out seed. */
  private heldoutBatches(dataset: Dataset, seed: string): TokenBatch[] {
    const { seqLen: T, batchSize: bs, heldoutSamples: n } = this.opts;
    return makeBatches(dataset.heldout, heldoutSamples(dataset, seed, n, T), bs, T);
  }

  /**
   * θ_r's held-out loss on every stage's held-out windows (the same count and seed as the current
   * stage's), for the explorer (issue 17: forgetting of earlier stages must show). The current stage's
   * is `heldOutLoss`; the others are evaluated after every peer, and only while the plan's time left
   * fits one more evaluation at the pace of the first: scoring peers decides payments, this only
   * reports. A stage left over is null (COMPONENT_UNSET on chain).
   */
  private async stageLosses(
    data: Pick<RoundData, "dataset" | "stageDatasets">,
    state: ModelState,
    seed: string,
    heldOutLoss: number,
    heldSeconds: number,
    plan: ScoringPlan,
  ): Promise<(number | null)[]> {
    const { engine } = this.deps;
    const { dataset, stageDatasets: stages } = data;
    const out: (number | null)[] = [];
    for (const [i, d] of stages.entries()) {
      let loss: number | null = null;
      if (d.manifestHash === dataset.manifestHash) loss = heldOutLoss;
      else if (!(plan.secondsLeft && plan.secondsLeft() < heldSeconds)) {
        loss = await engine.evaluate(state.params, this.heldoutBatches(d, seed));
      }
      if (loss !== null && stages.length > 1) this.deps.metrics?.loss.set({ kind: `heldout/stage${i}` }, loss);
      out.push(loss);
    }
    return out;
  }

  /**
   * `ownSamples` of what the peer trained on in round r (the first `samples` of its assignment stream, as
   * its announcement says; gossip bounds the count), drawn by the held-out seed (a block hash after the
   * submission deadline): a peer cannot know in advance which of its samples are checked, so it cannot
   * overfit them and skip the rest (issue 16; before, the first `ownSamples` were checked).
   */
  private ownBatches(
    data: Pick<RoundData, "dataset" | "replay">,
    round: number,
    address: string,
    announced: number | undefined,
    seed: string,
  ): TokenBatch[] {
    const { runId, innerSteps, batchSize, seqLen, ownSamples } = this.opts;
    const trained = Math.max(1, Math.min(announced ?? innerSteps * batchSize, innerSteps * batchSize));
    const { dataset, replay } = data;
    const a = assignSamples({ runId, round, address, count: trained, seqLen, batchSize, replay }, dataset);
    const samples = [...a.samples];
    const rng = Xoshiro128.fromString(`cotrain/own/${seed}/${address}`);
    const n = Math.min(ownSamples, samples.length);
    for (let i = 0; i < n; i++) {
      const j = i + rng.nextInt(samples.length - i); // partial Fisher-Yates
      [samples[i], samples[j]] = [samples[j], samples[i]];
    }
    // one sample per batch: the own gain is a median over samples (ownSampleGain)
    return assignmentBatches({ ...a, samples: samples.slice(0, n) }, dataset, 1, seqLen, replay?.dataset);
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

/** Copies among a warm-up round's dense updates (gathered in arrival order), on coordinates drawn from `seed`. */
function denseCopies(
  gathered: readonly Gathered[],
  specs: readonly TensorSpec[],
  seed: string,
): Map<string, RoundCopyVerdict> {
  const positions = densePositions(specs, seed);
  return detectDenseCopies(
    gathered.map((g) => ({ id: g.address, levels: denseLevels(g.update, specs, positions) })),
    DENSE_COPY_AGREEMENT,
  );
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
