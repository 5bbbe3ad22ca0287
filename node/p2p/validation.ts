import type { Message } from "@libp2p/gossipsub";
import type { PeerId } from "@libp2p/interface";
import { RateLimiter } from "@libp2p/utils";
import { bytesToHex, sha256 } from "../hash/index.ts";
import { addressFromPeerId } from "../identity/index.ts";
import type { TopicKind } from "./constants.ts";
import { GossipAction, GossipValidationError } from "./errors.ts";
import type { P2POptions } from "./options.ts";
import { CheckpointAnnouncement, StatusHeartbeat, UpdateAnnouncement } from "./pb/gossip.ts";

export interface GossipSender {
  peerId: PeerId;
  /** Ethereum address of the author (from the StrictSign key). */
  address: string;
}

export type DecodedGossip =
  | { kind: "updates"; message: UpdateAnnouncement }
  | { kind: "checkpoints"; message: CheckpointAnnouncement }
  | { kind: "status"; message: StatusHeartbeat };

export interface ValidatedGossip {
  decoded: DecodedGossip;
  from: GossipSender;
}

export interface GossipValidatorDeps {
  isRegistered: (address: string) => boolean | Promise<boolean>;
  /** The chain's round clock; without it the round window is not enforced. */
  currentRound?: () => number;
}

type ValidatorOptions = Pick<
  P2POptions,
  | "runId"
  | "roundWindow"
  | "inlinePayloadLimit"
  | "maxGossipBytes"
  | "blobMaxBytes"
  | "maxUpdateBytes"
  | "maxCheckpointBytes"
  | "maxStatusBytes"
  | "statusRateLimit"
>;

const HASH_BYTES = 32;
/** Heartbeats more than this far from our clock are stale or from a broken clock: ignored. */
const STATUS_CLOCK_TOLERANCE_MS = 5 * 60_000;
// protons decode limits: our messages have at most a few multiaddrs; refuse allocation bombs
const DECODE_LIMITS = { limits: { multiaddrs: 8 } };

const fail = (code: GossipValidationError["code"], action: GossipAction, msg: string) =>
  new GossipValidationError(code, action, msg);

/**
 * Checks one gossip message end to end and returns it decoded, or throws GossipValidationError.
 * Order: cheap, stateless checks first; the "one announcement per peer per round" record is written last,
 * in the same synchronous section as its check, so two concurrent validations cannot both pass.
 */
export class GossipValidator {
  /** round → `${kind}/${peerId}` → sha256 of the accepted message data. */
  private readonly seen = new Map<number, Map<string, string>>();
  /** Heartbeats per author per fixed window (entries expire with their window: bounded by active authors). */
  private readonly statusLimiter: RateLimiter;

  constructor(
    private readonly opts: ValidatorOptions,
    private readonly deps: GossipValidatorDeps,
  ) {
    this.statusLimiter = new RateLimiter({
      points: opts.statusRateLimit.points,
      duration: opts.statusRateLimit.windowMs / 1000,
      keyPrefix: "",
    });
  }

  /** Largest payload an announcement of `kind` may declare: the model's bound, never above blobMaxBytes. */
  payloadBound(kind: "updates" | "checkpoints"): number {
    return Math.min(
      kind === "updates" ? this.opts.maxUpdateBytes : this.opts.maxCheckpointBytes,
      this.opts.blobMaxBytes,
    );
  }

  /**
   * `propagationSource`: the peer that handed us the message (absent for catch-up replays).
   * `pastRounds`: how far back a round may lie; catch-up replays use the sync retention instead of
   * the live window, since a joining node needs announcements of rounds long closed.
   */
  async validate(
    kind: TopicKind,
    msg: Message,
    propagationSource?: PeerId,
    pastRounds?: number,
  ): Promise<ValidatedGossip> {
    if (msg.type !== "signed") throw fail("UNSIGNED", GossipAction.REJECT, "unsigned message under StrictSign");
    const maxBytes = kind === "status" ? this.opts.maxStatusBytes : this.opts.maxGossipBytes;
    if (msg.data.byteLength > maxBytes) {
      throw fail("TOO_LARGE", GossipAction.REJECT, `${kind} message of ${msg.data.byteLength} B > ${maxBytes} B`);
    }
    const decoded = this.decode(kind, msg.data);
    if (decoded.message.runId !== this.opts.runId) {
      throw fail("WRONG_RUN", GossipAction.REJECT, `runId ${decoded.message.runId} on a ${this.opts.runId} topic`);
    }
    if (decoded.kind === "updates") this.checkUpdate(decoded.message);
    else if (decoded.kind === "checkpoints") this.checkCheckpoint(decoded.message);
    else {
      this.checkStatus(decoded.message);
      // before the registry lookup: a flood is refused synchronously, while gossipsub still holds the
      // message and can charge the sender (a verdict reported after its mcache window is dropped)
      this.checkStatusRate(msg.from, propagationSource);
    }

    const address = addressFromPeerId(msg.from);
    if (address === null || !(await this.deps.isRegistered(address))) {
      throw fail(
        "NOT_REGISTERED",
        GossipAction.REJECT,
        `sender ${address ?? msg.from.toString()} is not a registered participant`,
      );
    }
    if (decoded.kind !== "status")
      this.checkRoundAndRecord(kind, decoded.message.round, msg.from, msg.data, propagationSource, pastRounds);
    return { decoded, from: { peerId: msg.from, address } };
  }

  private decode(kind: TopicKind, data: Uint8Array): DecodedGossip {
    try {
      if (kind === "updates") return { kind, message: UpdateAnnouncement.decode(data, DECODE_LIMITS) };
      if (kind === "checkpoints") return { kind, message: CheckpointAnnouncement.decode(data, DECODE_LIMITS) };
      return { kind, message: StatusHeartbeat.decode(data) };
    } catch (err) {
      throw fail("DECODE_FAILED", GossipAction.REJECT, `cannot decode ${kind}: ${(err as Error).message}`);
    }
  }

  private checkUpdate(m: UpdateAnnouncement): void {
    requireHash("baseModelHash", m.baseModelHash);
    requireHash("payloadHash", m.payloadHash);
    this.checkPayloadBytes("updates", m.payloadBytes);
    if (m.inlinePayload === undefined) return;
    if (m.inlinePayload.byteLength > this.opts.inlinePayloadLimit) {
      throw fail(
        "INLINE_TOO_LARGE",
        GossipAction.REJECT,
        `inline payload ${m.inlinePayload.byteLength} B > ${this.opts.inlinePayloadLimit} B`,
      );
    }
    if (m.inlinePayload.byteLength !== m.payloadBytes) {
      throw fail(
        "INLINE_SIZE_MISMATCH",
        GossipAction.REJECT,
        `inline ${m.inlinePayload.byteLength} B, announced ${m.payloadBytes} B`,
      );
    }
    if (sha256(m.inlinePayload) !== bytesToHex(m.payloadHash)) {
      throw fail("INLINE_HASH_MISMATCH", GossipAction.REJECT, "sha256(inlinePayload) != payloadHash");
    }
  }

  private checkCheckpoint(m: CheckpointAnnouncement): void {
    requireHash("modelHash", m.modelHash);
    requireHash("payloadHash", m.payloadHash);
    this.checkPayloadBytes("checkpoints", m.payloadBytes);
  }

  /**
   * The declared size against the model's bound, before anything is fetched: a payload larger than the
   * largest valid encoding cannot decode, so fetching and storing it would only spend our bandwidth and disk.
   */
  private checkPayloadBytes(kind: "updates" | "checkpoints", payloadBytes: number): void {
    if (payloadBytes <= 0) throw fail("BAD_FIELD", GossipAction.REJECT, `payloadBytes ${payloadBytes} <= 0`);
    const bound = this.payloadBound(kind);
    if (payloadBytes > bound) {
      throw fail("PAYLOAD_TOO_LARGE", GossipAction.REJECT, `${kind} payloadBytes ${payloadBytes} > ${bound}`);
    }
  }

  /**
   * Per-author heartbeat rate. Like equivocation, REJECT (P4 on the sender) only when the author hands
   * it to us itself: a relay forwards at most what it accepted, and may have accepted a little more than
   * we would because its window started at another time.
   */
  private checkStatusRate(from: PeerId, propagationSource?: PeerId): void {
    try {
      this.statusLimiter.consume(from.toString());
    } catch {
      const byAuthor = propagationSource === undefined || propagationSource.equals(from);
      const { points, windowMs } = this.opts.statusRateLimit;
      throw fail(
        "RATE_LIMITED",
        byAuthor ? GossipAction.REJECT : GossipAction.IGNORE,
        `more than ${points} heartbeats of ${from} in ${windowMs} ms`,
      );
    }
  }

  private checkStatus(m: StatusHeartbeat): void {
    if (m.modelHash.byteLength !== 0) requireHash("modelHash", m.modelHash);
    if (!Number.isFinite(m.tokensPerS) || m.tokensPerS < 0) throw fail("BAD_FIELD", GossipAction.REJECT, "tokensPerS");
    if (Math.abs(Date.now() - m.timestamp) > STATUS_CLOCK_TOLERANCE_MS) {
      // stale or skewed clock: harmless, so ignore without penalty
      throw fail("ROUND_OUT_OF_WINDOW", GossipAction.IGNORE, `heartbeat timestamp ${m.timestamp} too far from now`);
    }
  }

  private checkRoundAndRecord(
    kind: TopicKind,
    round: number,
    from: PeerId,
    data: Uint8Array,
    propagationSource?: PeerId,
    pastRounds?: number,
  ): void {
    const current = this.deps.currentRound?.();
    if (current !== undefined) {
      const lo = current - (pastRounds ?? this.opts.roundWindow.past);
      const hi = current + this.opts.roundWindow.future;
      // IGNORE, not REJECT: a slow link or a skewed clock delivers honest messages a little late/early
      if (round < lo || round > hi)
        throw fail("ROUND_OUT_OF_WINDOW", GossipAction.IGNORE, `round ${round} outside [${lo}, ${hi}]`);
      const forget = current - Math.max(this.opts.roundWindow.past, pastRounds ?? 0);
      for (const r of this.seen.keys()) if (r < forget) this.seen.delete(r);
    }
    let perRound = this.seen.get(round);
    if (!perRound) {
      perRound = new Map();
      this.seen.set(round, perRound);
    }
    const key = `${kind}/${from.toString()}`;
    const digest = sha256(data);
    const prev = perRound.get(key);
    if (prev === digest)
      throw fail("DUPLICATE", GossipAction.IGNORE, `already have ${kind} of ${from} for round ${round}`);
    if (prev !== undefined) {
      // Two different announcements for one round: the author equivocates (one update per round). P4
      // penalises the propagation source, so REJECT only when the author hands it to us itself; an honest
      // relay that accepted the other version first is not punished for forwarding it (IGNORE).
      const byAuthor = propagationSource === undefined || propagationSource.equals(from);
      throw fail(
        "EQUIVOCATION",
        byAuthor ? GossipAction.REJECT : GossipAction.IGNORE,
        `second, different ${kind} of ${from} for round ${round}`,
      );
    }
    perRound.set(key, digest);
  }
}

function requireHash(field: string, value: Uint8Array): void {
  if (value.byteLength !== HASH_BYTES)
    throw fail("BAD_HASH", GossipAction.REJECT, `${field} is ${value.byteLength} B, want ${HASH_BYTES}`);
}
