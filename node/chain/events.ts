import type { EventLog, Interface, Log, Result } from "ethers";
import {
  type PayloadEntry,
  decodeBitmap,
  decodeComponents,
  decodePayloads,
  decodeRoundComponents,
  decodeScores,
} from "./encoding.ts";
import type { RoundTotals } from "./types.ts";

/**
 * The one typed decoder of TrainingRun's events (docs/contract.md "Events"). Every consumer — the node's
 * chain view, chain discovery, the explorer, the indexer — gets the same shapes: rounds, indices and
 * counts as numbers, wei as bigint, addresses checksummed, bytes32 as lowercase 0x hex, the compact
 * encodings decoded (scores and medians → number[], bitmaps → sorted indices, payload lists → entries
 * with lowercase sha256 hex without 0x, components → number[][] per peer plus the per-round values). Raw `metadata` stays 0x hex.
 */
export interface RunEventArgs {
  PeerRegistered: { peer: string; index: number; bond: bigint; metadata: string };
  PeerExited: { peer: string; index: number; refund: bigint };
  PeerEvicted: { peer: string; index: number; round: number; forfeited: bigint };
  ValidatorStaked: { validator: string; amount: bigint; totalStake: bigint };
  UnstakeRequested: { validator: string; amount: bigint; withdrawableAt: number };
  ValidatorWithdrew: { validator: string; amount: bigint };
  ScoresSubmitted: {
    round: number;
    validator: string;
    modelHash: string;
    payloadRoot: string;
    weight: bigint;
    payloads: PayloadEntry[];
    scores: number[];
    components: number[][];
    /** Per-round int16 values (node/scoring/chain-components.ts: held-out loss per stage); [] if none. */
    roundComponents: number[];
  };
  RoundFinalized: {
    round: number;
    modelHash: string;
    payloadRoot: string;
    medians: number[];
    included: number[];
    gatherSet: number[];
    totals: RoundTotals;
  };
  RoundSkipped: {
    round: number;
    submissions: number;
    snapshotWeight: bigint;
    submittedWeight: bigint;
    bestWeight: bigint;
  };
  PeerRewarded: { round: number; peer: string; medianScore: number; amount: bigint };
  ValidatorRewarded: { round: number; validator: string; amount: bigint };
  CheckpointRecorded: { round: number; modelHash: string; validator: string; uri: string };
  Claimed: { account: string; amount: bigint };
  /** The operator appended `configHash` (0x lowercase) to the config timeline, in effect from `fromRound`. */
  ConfigAppended: { fromRound: number; configHash: string };
}

/** Names of every event TrainingRun emits. */
export type TrainingRunEventName = keyof RunEventArgs;

/** Where an event sits in the chain (events are delivered in (blockNumber, logIndex) order). */
export interface EventPosition {
  blockNumber: number;
  logIndex: number;
  transactionHash: string;
}

/** One decoded event: `name` narrows `args`. */
export type RunEvent = {
  [N in TrainingRunEventName]: { name: N; args: RunEventArgs[N] } & EventPosition;
}[TrainingRunEventName];

/** The indexer's name for a decoded event (same type). */
export type ChainEvent = RunEvent;

const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex.slice(2), "hex"));
const num = (v: unknown) => Number(v as bigint);
const big = (v: unknown) => v as bigint;
const str = (v: unknown) => String(v);
const hash = (v: unknown) => String(v).toLowerCase();

type Decoders = { [N in TrainingRunEventName]: (a: Result) => RunEventArgs[N] };

const decoders: Decoders = {
  PeerRegistered: (a) => ({ peer: str(a.peer), index: num(a.index), bond: big(a.bond), metadata: str(a.metadata) }),
  PeerExited: (a) => ({ peer: str(a.peer), index: num(a.index), refund: big(a.refund) }),
  PeerEvicted: (a) => ({ peer: str(a.peer), index: num(a.index), round: num(a.round), forfeited: big(a.forfeited) }),
  ValidatorStaked: (a) => ({ validator: str(a.validator), amount: big(a.amount), totalStake: big(a.totalStake) }),
  UnstakeRequested: (a) => ({
    validator: str(a.validator),
    amount: big(a.amount),
    withdrawableAt: num(a.withdrawableAt),
  }),
  ValidatorWithdrew: (a) => ({ validator: str(a.validator), amount: big(a.amount) }),
  ScoresSubmitted: (a) => ({
    round: num(a.round),
    validator: str(a.validator),
    modelHash: hash(a.modelHash),
    payloadRoot: hash(a.payloadRoot),
    weight: big(a.weight),
    // The contract accepts only well-formed lists, so null (not a list) cannot come from the chain.
    payloads: decodePayloads(bytes(a.payloads)) ?? [],
    scores: decodeScores(bytes(a.scores)),
    components: decodeComponents(bytes(a.components)),
    roundComponents: decodeRoundComponents(bytes(a.components)),
  }),
  RoundFinalized: (a) => {
    const t = a.totals;
    return {
      round: num(a.round),
      modelHash: hash(a.modelHash),
      payloadRoot: hash(a.payloadRoot),
      medians: decodeScores(bytes(a.medians)),
      included: decodeBitmap(bytes(a.included)),
      gatherSet: decodeBitmap(bytes(a.gatherSet)),
      totals: {
        submissions: num(t.submissions),
        scoredPeers: num(t.scoredPeers),
        snapshotWeight: big(t.snapshotWeight),
        submittedWeight: big(t.submittedWeight),
        agreeingWeight: big(t.agreeingWeight),
        scoreSum: big(t.scoreSum),
        peerRewards: big(t.peerRewards),
        validatorRewards: big(t.validatorRewards),
      },
    };
  },
  RoundSkipped: (a) => ({
    round: num(a.round),
    submissions: num(a.submissions),
    snapshotWeight: big(a.snapshotWeight),
    submittedWeight: big(a.submittedWeight),
    bestWeight: big(a.bestWeight),
  }),
  PeerRewarded: (a) => ({
    round: num(a.round),
    peer: str(a.peer),
    medianScore: num(a.medianScore),
    amount: big(a.amount),
  }),
  ValidatorRewarded: (a) => ({ round: num(a.round), validator: str(a.validator), amount: big(a.amount) }),
  CheckpointRecorded: (a) => ({
    round: num(a.round),
    modelHash: hash(a.modelHash),
    validator: str(a.validator),
    uri: str(a.uri),
  }),
  Claimed: (a) => ({ account: str(a.account), amount: big(a.amount) }),
  ConfigAppended: (a) => ({ fromRound: num(a.fromRound), configHash: hash(a.configHash) }),
};

function isRunEventName(name: string): name is TrainingRunEventName {
  return Object.hasOwn(decoders, name);
}

/**
 * Decodes one log of the run with the contract's `iface` (e.g. `client.contract.interface`); null for a
 * log that is not one of TrainingRun's events (another contract's, or an event this build does not know).
 */
export function decodeRunEvent(iface: Interface, log: Log | EventLog): RunEvent | null {
  const parsed = "fragment" in log && log.fragment ? { name: log.fragment.name, args: log.args } : iface.parseLog(log);
  if (!parsed || !isRunEventName(parsed.name)) return null;
  const decode = decoders[parsed.name] as (a: Result) => RunEvent["args"];
  return {
    name: parsed.name,
    args: decode(parsed.args),
    blockNumber: log.blockNumber,
    logIndex: log.index,
    transactionHash: log.transactionHash,
  } as RunEvent;
}
