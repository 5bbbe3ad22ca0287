import { formatEther, getAddress } from "ethers";
import type { ChainEvent, PayloadEntry, RoundTotals, RoundTiming } from "../chain/index.ts";
import { type ChainComponents, decodeChainComponents, decodeStageHeldOut } from "../scoring/chain-components.ts";

/** A chain event as the explorer keeps it (node/chain's typed decoder), with its block's timestamp. */
export type IndexedEvent = ChainEvent & { timestamp: number };

interface Submission {
  validator: string;
  weight: bigint;
  modelHash: string;
  payloadRoot: string;
  included: number[];
  /** The payload list the validator committed to: peer index → sha256 of the update it aggregated. */
  payloads: PayloadEntry[];
  scores: number[];
  components: number[][];
  /** Held-out loss of θ_r per stage in nats (null: not measured); [] when the submission has none. */
  stageHeldOut: (number | null)[];
  tx: string;
  block: number;
  time: number;
}

interface Finalization {
  modelHash: string;
  payloadRoot: string;
  medians: number[];
  included: number[];
  gatherSet: number[];
  totals: RoundTotals;
  tx: string;
  block: number;
  time: number;
}

interface RoundState {
  round: number;
  submissions: Submission[];
  finalized?: Finalization;
  /** Finalized without quorum (RoundSkipped): no hash, rewards or gather set. */
  skipped?: { snapshotWeight: bigint; submittedWeight: bigint; bestWeight: bigint; tx: string; time: number };
  /** by lowercase peer address */
  peerRewards: Map<string, { median: number; amount: bigint }>;
  /** by lowercase validator address */
  validatorRewards: Map<string, bigint>;
  checkpoint?: { uri: string; validator: string; tx: string };
}

interface PeerState {
  address: string;
  index: number;
  metadata: string;
  tx: string;
  time: number;
  /** Set when the peer left its slot: on its own (exited) or by the finalize of `round` (evicted). */
  left?: { how: "exited" | "evicted"; round?: number; time: number };
}

interface AccountState {
  peerEarned: bigint;
  validatorEarned: bigint;
  claims: { amount: bigint; tx: string; time: number }[];
}

interface ValidatorState {
  address: string;
  stake: bigint;
  unstaking?: { amount: bigint; withdrawableAt: number };
  withdrawn: bigint;
}

/** How far the indexer has read: the last block indexed, its chain time, and the chain head it saw. */
export interface IndexedHead {
  block: number;
  /** block's timestamp (unix seconds): the clock for rounds that closed without a settlement */
  time: number;
  head: number;
  /** completed polls since start */
  polls: number;
}

/** Why a round has no model hash: RoundSkipped (no quorum), no submission at all, or none finalized it. */
export type SkipReason = "no quorum" | "no submissions" | "not finalized";

/** Wei as a decimal string plus whole-token units (JSON has no bigint). */
export interface Amount {
  wei: string;
  tokens: string;
}

const amount = (wei: bigint): Amount => ({ wei: wei.toString(), tokens: formatEther(wei) });
const MAX_SCORE = 0xffff;
const lower = (a: string) => a.toLowerCase();

/** Median of the measured values (null when none): robust to one validator's odd number. */
function median(values: (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/**
 * The explorer's read model, built only from TrainingRun's events (docs/contract.md). `apply` is
 * idempotent per (block, logIndex) because the indexer delivers at least once. The views return
 * plain JSON for the HTTP API.
 */
export class ExplorerModel {
  private readonly seen = new Set<string>();
  private readonly rounds = new Map<number, RoundState>();
  private readonly peers = new Map<string, PeerState>();
  private readonly peerByIndex: string[] = [];
  private readonly accounts = new Map<string, AccountState>();
  private readonly validators = new Map<string, ValidatorState>();
  lastEventBlock = -1;
  eventCount = 0;
  /** The run's round clock (runParams); without it rounds without events are not listed. */
  timing: RoundTiming | null = null;
  indexed: IndexedHead = { block: -1, time: 0, head: -1, polls: 0 };

  /** Returns false for an event already applied. */
  apply(ev: IndexedEvent): boolean {
    const id = `${ev.blockNumber}:${ev.logIndex}`;
    if (this.seen.has(id)) return false;
    this.seen.add(id);
    this.eventCount++;
    this.lastEventBlock = Math.max(this.lastEventBlock, ev.blockNumber);
    const base = { tx: ev.transactionHash, block: ev.blockNumber, time: ev.timestamp };
    switch (ev.name) {
      case "PeerRegistered": {
        const address = getAddress(ev.args.peer);
        const { index } = ev.args;
        this.peers.set(lower(address), { address, index, metadata: ev.args.metadata, tx: base.tx, time: base.time });
        this.peerByIndex[index] = lower(address);
        break;
      }
      case "PeerExited":
      case "PeerEvicted": {
        const p = this.peers.get(lower(ev.args.peer));
        if (p) {
          p.left =
            ev.name === "PeerExited"
              ? { how: "exited", time: base.time }
              : { how: "evicted", round: ev.args.round, time: base.time };
        }
        if (this.peerByIndex[ev.args.index] === lower(ev.args.peer)) delete this.peerByIndex[ev.args.index];
        break;
      }
      case "ValidatorStaked": {
        const v = this.validator(ev.args.validator);
        v.stake = ev.args.totalStake;
        v.unstaking = undefined;
        break;
      }
      case "UnstakeRequested": {
        const v = this.validator(ev.args.validator);
        v.unstaking = { amount: ev.args.amount, withdrawableAt: ev.args.withdrawableAt };
        v.stake = 0n;
        break;
      }
      case "ValidatorWithdrew": {
        const v = this.validator(ev.args.validator);
        v.withdrawn += ev.args.amount;
        v.unstaking = undefined;
        break;
      }
      case "ScoresSubmitted":
        this.round(ev.args.round).submissions.push({
          validator: getAddress(ev.args.validator),
          weight: ev.args.weight,
          modelHash: ev.args.modelHash,
          payloadRoot: ev.args.payloadRoot,
          included: ev.args.payloads.map((p) => p.index),
          payloads: ev.args.payloads,
          scores: ev.args.scores,
          components: ev.args.components,
          // events stored before per-stage losses existed have no roundComponents
          stageHeldOut: decodeStageHeldOut(ev.args.roundComponents ?? []),
          ...base,
        });
        break;
      case "RoundFinalized": {
        const { modelHash, payloadRoot, medians, included, gatherSet, totals } = ev.args;
        this.round(ev.args.round).finalized = { modelHash, payloadRoot, medians, included, gatherSet, totals, ...base };
        break;
      }
      case "RoundSkipped": {
        const { snapshotWeight, submittedWeight, bestWeight } = ev.args;
        this.round(ev.args.round).skipped = {
          snapshotWeight,
          submittedWeight,
          bestWeight,
          tx: base.tx,
          time: base.time,
        };
        break;
      }
      case "PeerRewarded":
        this.round(ev.args.round).peerRewards.set(lower(ev.args.peer), {
          median: ev.args.medianScore,
          amount: ev.args.amount,
        });
        this.account(ev.args.peer).peerEarned += ev.args.amount;
        break;
      case "ValidatorRewarded":
        this.round(ev.args.round).validatorRewards.set(lower(ev.args.validator), ev.args.amount);
        this.account(ev.args.validator).validatorEarned += ev.args.amount;
        break;
      case "CheckpointRecorded":
        this.round(ev.args.round).checkpoint = {
          uri: ev.args.uri,
          validator: getAddress(ev.args.validator),
          tx: base.tx,
        };
        break;
      case "Claimed":
        this.account(ev.args.account).claims.push({ amount: ev.args.amount, tx: base.tx, time: base.time });
        break;
    }
    return true;
  }

  private round(r: number): RoundState {
    let s = this.rounds.get(r);
    if (!s) {
      s = { round: r, submissions: [], peerRewards: new Map(), validatorRewards: new Map() };
      this.rounds.set(r, s);
    }
    return s;
  }

  private account(address: string): AccountState {
    const k = lower(address);
    let s = this.accounts.get(k);
    if (!s) {
      s = { peerEarned: 0n, validatorEarned: 0n, claims: [] };
      this.accounts.set(k, s);
    }
    return s;
  }

  private validator(address: string): ValidatorState {
    const k = lower(address);
    let v = this.validators.get(k);
    if (!v) {
      v = { address: getAddress(address), stake: 0n, withdrawn: 0n };
      this.validators.set(k, v);
    }
    return v;
  }

  private addressOf(index: number): string {
    const k = this.peerByIndex[index];
    return k ? this.peers.get(k)!.address : `#${index}`;
  }

  /** Median over validators of component 0 (held-out loss of θ_r), from any peer row that has it. */
  private heldOutLoss(s: RoundState): number | null {
    return median(
      s.submissions.map((sub) => {
        for (const row of sub.components) {
          const c = decodeChainComponents(row);
          if (c.heldOutLossBefore !== null) return c.heldOutLossBefore;
        }
        return null;
      }),
    );
  }

  /**
   * Held-out loss of θ_r per stage (index = stage in run-config order), each the median over the
   * validators that measured it; [] when no submission of the round carries per-stage losses (a
   * one-stage run, or validators from before issue 17).
   */
  private heldOutLossByStage(s: RoundState): (number | null)[] {
    const stages = Math.max(0, ...s.submissions.map((sub) => sub.stageHeldOut.length));
    return Array.from({ length: stages }, (_, i) => median(s.submissions.map((sub) => sub.stageHeldOut[i] ?? null)));
  }

  private claimStatus(address: string) {
    const acc = this.accounts.get(lower(address)) ?? { peerEarned: 0n, validatorEarned: 0n, claims: [] };
    const earned = acc.peerEarned + acc.validatorEarned;
    const claimed = acc.claims.reduce((s, c) => s + c.amount, 0n);
    // Claimed mints the whole balance (peer + validator) at once, so pending = earned − claimed.
    const pending = earned > claimed ? earned - claimed : 0n;
    return {
      earned: amount(earned),
      peerEarned: amount(acc.peerEarned),
      validatorEarned: amount(acc.validatorEarned),
      claimed: amount(claimed),
      pending: amount(pending),
      status: earned === 0n ? "none" : pending === 0n ? "claimed" : claimed === 0n ? "unclaimed" : "partly claimed",
      claims: acc.claims.map((c) => ({ amount: amount(c.amount), tx: c.tx, time: c.time })),
    };
  }

  /** Scoring window close of `round` on the run's clock (docs/contract.md "Round schedule"). */
  private closesAt(round: number): number | null {
    const t = this.timing;
    return t ? t.genesis + (round + 1) * t.roundSeconds + t.submissionSeconds + t.scoringSeconds : null;
  }

  /** The newest round whose scoring window had closed at the indexed block's time; −1 if none. */
  lastClosedRound(): number {
    const t = this.timing;
    if (!t || this.indexed.time === 0) return -1;
    return Math.floor((this.indexed.time - t.genesis - t.submissionSeconds - t.scoringSeconds) / t.roundSeconds) - 1;
  }

  private status(s: RoundState): { status: string; skipReason: SkipReason | null } {
    if (s.finalized) return { status: "finalized", skipReason: null };
    if (s.skipped) return { status: "skipped", skipReason: "no quorum" };
    const closed = s.round <= this.lastClosedRound();
    if (s.submissions.length === 0) {
      return closed ? { status: "skipped", skipReason: "no submissions" } : { status: "scoring", skipReason: null };
    }
    // Finalize is permissionless and has no deadline: anyone may still settle it.
    if (closed) return { status: "not finalized", skipReason: "not finalized" };
    return { status: "scoring", skipReason: null };
  }

  /**
   * The payload list behind the round's hash: the canonical submission's once finalized, else the one
   * list every submission so far agrees on; index → sha256 (hex, no 0x). Empty when there is none.
   */
  private updateHashes(s: RoundState): Map<number, string> {
    const f = s.finalized;
    const roots = new Set(s.submissions.map((sub) => sub.payloadRoot));
    const sub = f
      ? s.submissions.find((x) => x.modelHash === f.modelHash && x.payloadRoot === f.payloadRoot)
      : roots.size === 1
        ? s.submissions[0]
        : undefined;
    return new Map((sub?.payloads ?? []).map((p) => [p.index, p.hash]));
  }

  private roundRow(s: RoundState) {
    const f = s.finalized;
    return {
      round: s.round,
      ...this.status(s),
      time: f?.time ?? s.skipped?.time ?? s.submissions[0]?.time ?? this.closesAt(s.round),
      modelHash: f?.modelHash ?? null,
      payloadRoot: f?.payloadRoot ?? null,
      updates: f ? f.included.length : null,
      validators: s.submissions.length,
      tx: f?.tx ?? s.skipped?.tx ?? null,
      block: f?.block ?? null,
      heldOutLoss: this.heldOutLoss(s),
      heldOutLossByStage: this.heldOutLossByStage(s),
      peerRewards: f ? amount(f.totals.peerRewards) : null,
      validatorRewards: f ? amount(f.totals.validatorRewards) : null,
      agreement:
        f && f.totals.submittedWeight > 0n
          ? Number((f.totals.agreeingWeight * 10_000n) / f.totals.submittedWeight) / 10_000
          : null,
      checkpoint: s.checkpoint ?? null,
    };
  }

  /** A round without any event (nobody submitted): nothing on chain but its place on the clock. */
  private emptyRound(r: number): RoundState {
    return { round: r, submissions: [], peerRewards: new Map(), validatorRewards: new Map() };
  }

  /**
   * Newest first: every round with events, and every round up to the last closed one (those without
   * events show as skipped, "no submissions": no model hash was settled for them).
   */
  listRounds() {
    const last = Math.max(this.lastClosedRound(), ...this.rounds.keys());
    const out = [];
    for (let r = last; r >= 0; r--) {
      const s = this.rounds.get(r);
      if (s) out.push(this.roundRow(s));
      else if (r <= this.lastClosedRound()) out.push(this.roundRow(this.emptyRound(r)));
    }
    return out;
  }

  getRound(r: number) {
    const s = this.rounds.get(r) ?? (r <= this.lastClosedRound() ? this.emptyRound(r) : undefined);
    if (!s) return null;
    const f = s.finalized;
    const hashes = this.updateHashes(s);
    const nPeers = Math.max(
      this.peerByIndex.length,
      f?.medians.length ?? 0,
      ...s.submissions.map((sub) => Math.max(sub.scores.length, sub.components.length)),
    );
    const peers = Array.from({ length: nPeers }, (_, i) => {
      const address = this.addressOf(i);
      const reward = s.peerRewards.get(lower(address));
      const median = f ? (f.medians[i] ?? 0) : null;
      return {
        index: i,
        address,
        medianScore: median,
        medianScoreFraction: median === null ? null : median / MAX_SCORE,
        reward: amount(reward?.amount ?? 0n),
        included: f ? f.included.includes(i) : null,
        inNextGatherSet: f ? f.gatherSet.includes(i) : null,
        updateHash: hashes.get(i) ?? null,
        scores: s.submissions.map((sub) => ({
          validator: sub.validator,
          score: sub.scores[i] ?? 0,
          included: sub.included.includes(i),
          components: sub.components[i] ? decodeChainComponents(sub.components[i]) : null,
          raw: sub.components[i] ?? null,
        })),
      };
    });
    return {
      ...this.roundRow(s),
      totals: f
        ? {
            submissions: f.totals.submissions,
            scoredPeers: f.totals.scoredPeers,
            snapshotWeight: amount(f.totals.snapshotWeight),
            submittedWeight: amount(f.totals.submittedWeight),
            agreeingWeight: amount(f.totals.agreeingWeight),
            scoreSum: f.totals.scoreSum.toString(),
          }
        : null,
      skipped: s.skipped
        ? {
            snapshotWeight: amount(s.skipped.snapshotWeight),
            submittedWeight: amount(s.skipped.submittedWeight),
            bestWeight: amount(s.skipped.bestWeight),
            tx: s.skipped.tx,
          }
        : null,
      gatherSet: f?.gatherSet ?? null,
      submissions: s.submissions.map((sub) => ({
        validator: sub.validator,
        weight: amount(sub.weight),
        modelHash: sub.modelHash,
        payloadRoot: sub.payloadRoot,
        agrees: f ? sub.modelHash === f.modelHash && sub.payloadRoot === f.payloadRoot : null,
        reward: amount(s.validatorRewards.get(lower(sub.validator)) ?? 0n),
        includedCount: sub.included.length,
        stageHeldOut: sub.stageHeldOut,
        tx: sub.tx,
        time: sub.time,
      })),
      peers,
    };
  }

  listPeers() {
    const finalized = [...this.rounds.values()].filter((s) => s.finalized).sort((a, b) => b.round - a.round);
    const last = finalized[0];
    return [...this.peers.values()]
      .sort((a, b) => a.index - b.index)
      .map((p) => {
        const scored = finalized.filter((s) => (s.finalized!.medians[p.index] ?? 0) > 0);
        return {
          index: p.index,
          address: p.address,
          registeredAt: p.time,
          roundsScored: scored.length,
          roundsIncluded: finalized.filter((s) => s.finalized!.included.includes(p.index)).length,
          lastMedianScore: last ? (last.finalized!.medians[p.index] ?? 0) : null,
          left: p.left ?? null,
          ...this.claimStatus(p.address),
        };
      });
  }

  getPeer(address: string) {
    const p = this.peers.get(lower(address));
    const v = this.validators.get(lower(address));
    if (!p && !v && !this.accounts.has(lower(address))) return null;
    const history = p
      ? [...this.rounds.values()]
          .sort((a, b) => a.round - b.round)
          .map((s) => {
            const comps = s.submissions.map((sub) =>
              sub.components[p.index] ? decodeChainComponents(sub.components[p.index]) : null,
            );
            const pick = (f: (c: ChainComponents) => number | null) => median(comps.map((c) => (c ? f(c) : null)));
            const median_ = s.finalized ? (s.finalized.medians[p.index] ?? 0) : null;
            return {
              round: s.round,
              finalized: !!s.finalized,
              time: s.finalized?.time ?? s.submissions[0]?.time ?? null,
              medianScore: median_,
              medianScoreFraction: median_ === null ? null : median_ / MAX_SCORE,
              scores: s.submissions.map((sub) => sub.scores[p.index] ?? 0),
              heldOutLossBefore: pick((c) => c.heldOutLossBefore),
              heldOutLossAfter: pick((c) => c.heldOutLossAfter),
              heldOutGain: pick((c) => c.heldOutGain),
              ownGain: pick((c) => c.ownGain),
              reasons: [...new Set(comps.map((c) => c?.reason ?? "not scored"))],
              included: s.finalized ? s.finalized.included.includes(p.index) : null,
              reward: amount(s.peerRewards.get(lower(p.address))?.amount ?? 0n),
            };
          })
      : [];
    return {
      address: p?.address ?? v?.address ?? getAddress(address),
      index: p?.index ?? null,
      metadata: p?.metadata ?? null,
      registeredAt: p?.time ?? null,
      registrationTx: p?.tx ?? null,
      validator: v ? this.validatorView(v) : null,
      ...this.claimStatus(address),
      history,
    };
  }

  /** A validator's stake and every round it submitted: its hash, whether it won, its reward. */
  private validatorView(v: ValidatorState) {
    const k = lower(v.address);
    const submissions = [...this.rounds.values()]
      .sort((a, b) => b.round - a.round)
      .flatMap((s) =>
        s.submissions
          .filter((sub) => lower(sub.validator) === k)
          .map((sub) => {
            const f = s.finalized;
            return {
              round: s.round,
              ...this.status(s),
              weight: amount(sub.weight),
              modelHash: sub.modelHash,
              payloadRoot: sub.payloadRoot,
              agrees: f ? sub.modelHash === f.modelHash && sub.payloadRoot === f.payloadRoot : null,
              includedCount: sub.included.length,
              reward: amount(s.validatorRewards.get(k) ?? 0n),
              tx: sub.tx,
              time: sub.time,
            };
          }),
      );
    return {
      stake: amount(v.stake),
      unstaking: v.unstaking ? { ...v.unstaking, amount: amount(v.unstaking.amount) } : null,
      withdrawn: amount(v.withdrawn),
      rewarded: amount(this.accounts.get(k)?.validatorEarned ?? 0n),
      roundsSubmitted: submissions.length,
      roundsAgreed: submissions.filter((x) => x.agrees).length,
      submissions,
    };
  }

  summary() {
    const finalized = [...this.rounds.values()].filter((s) => s.finalized).sort((a, b) => a.round - b.round);
    const last = finalized.at(-1);
    let rewarded = 0n;
    for (const s of finalized) rewarded += s.finalized!.totals.peerRewards + s.finalized!.totals.validatorRewards;
    let claimed = 0n;
    for (const acc of this.accounts.values()) for (const c of acc.claims) claimed += c.amount;
    return {
      peers: this.peers.size,
      validators: [...this.validators.values()].filter((v) => v.stake > 0n).length,
      validatorList: [...this.validators.values()].map((v) => ({
        address: v.address,
        stake: amount(v.stake),
        unstaking: !!v.unstaking,
      })),
      roundsFinalized: finalized.length,
      lastFinalizedRound: last?.round ?? null,
      latestModelHash: last?.finalized?.modelHash ?? null,
      rewarded: amount(rewarded),
      claimed: amount(claimed),
      events: this.eventCount,
      lastEventBlock: this.lastEventBlock,
      indexed: this.indexed,
      roundsSkipped: this.listRounds().filter((r) => r.status === "skipped").length,
      /** Oldest first, finalized rounds only: the charts' data. */
      series: finalized.map((s) => ({
        round: s.round,
        heldOutLoss: this.heldOutLoss(s),
        heldOutLossByStage: this.heldOutLossByStage(s),
        peerRewards: Number(formatEther(s.finalized!.totals.peerRewards)),
        validatorRewards: Number(formatEther(s.finalized!.totals.validatorRewards)),
      })),
    };
  }
}
