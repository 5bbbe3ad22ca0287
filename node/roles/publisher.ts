import type { Logger } from "pino";
import { parseHash32 } from "../hash/index.ts";
import type { Metrics } from "../metrics/index.ts";
import type { P2PNode } from "../p2p/index.ts";
import {
  type ModelUpdate,
  type ParamMap,
  SparseLocoError,
  type SparseLocoOptions,
  type TensorSpec,
  type WarmupSettings,
  makeUpdate,
  roundCompression,
} from "../sparseloco/index.ts";
import type { BlobRepository, RoundRecord } from "../store/index.ts";
import { type Announcement, buildAnnouncement } from "./announcement.ts";
import type { PublishHook } from "./hooks.ts";
import type { UpdateInbox } from "./inbox.ts";
import type { StateStore } from "./state-store.ts";
import type { TrainedRound } from "./trainer.ts";

export interface PublisherDependencies {
  address: string;
  specs: readonly TensorSpec[];
  state: Pick<StateStore, "errorFeedback" | "commitPublished">;
  blobs: Pick<BlobRepository, "putOps" | "put" | "has">;
  p2p: Pick<P2PNode, "publishUpdate">;
  inbox: Pick<UpdateInbox, "addOwn">;
  /** How the update goes out; `honestPublish` unless a test injected a hook (node/roles/hooks.ts). */
  publish: PublishHook;
  metrics: Pick<Metrics, "phaseSeconds" | "networkBytes"> | null;
  logger: Logger;
}

/** A compressed update with the EF buffer it leaves behind (not yet persisted). */
export interface CompressedRound {
  update: ModelUpdate;
  errorFeedback: ParamMap;
  seconds: number;
}

/**
 * A peer's steps 3-4: compress Δ = θ_r − θ_end with its error feedback, persist EF + payload + the
 * "published" mark in one batch, then announce the update on gossip and serve the payload by hash.
 */
export class Publisher {
  constructor(
    private readonly opts: { sparseloco: SparseLocoOptions & WarmupSettings },
    private readonly deps: PublisherDependencies,
  ) {}

  /** Step 3: the round's update, or null when the pseudo-gradient is not finite (nothing is published). */
  compress(trained: TrainedRound): CompressedRound | null {
    const t0 = performance.now();
    try {
      const made = makeUpdate(
        trained.base.params,
        trained.result.params,
        this.deps.state.errorFeedback,
        this.deps.specs,
        roundCompression(this.opts.sparseloco, trained.round),
      );
      const seconds = (performance.now() - t0) / 1000;
      this.deps.metrics?.phaseSeconds.observe({ phase: "compress" }, seconds);
      return { ...made, seconds };
    } catch (err) {
      if (!(err instanceof SparseLocoError && err.code === "NON_FINITE_DELTA")) throw err;
      this.deps.logger.error({ round: trained.round, err: err.message }, "pseudo-gradient not finite; not publishing");
      return null;
    }
  }

  /**
   * Steps 3b-4. Everything the round must not lose is committed before the announcement: a crash after
   * the commit resumes without retraining and never announces a second, different update (which gossip
   * validation treats as equivocation). Resolves with the seconds it took.
   */
  async publish(
    trained: TrainedRound,
    compressed: CompressedRound,
    record: Pick<RoundRecord, "timings" | "losses">,
  ): Promise<number> {
    const t0 = performance.now();
    const { update, errorFeedback } = compressed;
    const r = trained.round;
    const blob = this.deps.blobs.putOps(update.payload, { kind: "update", round: r, peer: this.deps.address });
    await this.deps.state.commitPublished(
      errorFeedback,
      {
        round: r,
        baseModelHash: trained.base.hash,
        gathered: [],
        ownPayloadHash: update.payloadHash,
        samples: trained.samples,
        timings: record.timings,
        losses: record.losses,
        status: "published",
      },
      blob.ops,
    );
    const announcement = buildAnnouncement({
      round: r,
      baseModelHash: trained.base.hash,
      payloadHash: update.payloadHash,
      payload: update.payload,
      dataDigest: parseHash32(trained.assignment.dataDigest, "assignment dataDigest"),
      samples: trained.samples,
    });
    const sent = await this.deps.publish({ round: r, update, announcement }, (ann, payload) =>
      this.send(r, ann, payload),
    );
    if (sent) this.deps.inbox.addOwn(sent);
    const seconds = (performance.now() - t0) / 1000;
    this.deps.metrics?.phaseSeconds.observe({ phase: "publish" }, seconds);
    this.deps.logger.info(
      {
        round: r,
        steps: trained.result.steps,
        staleSteps: trained.staleSteps,
        samples: trained.samples,
        stage: trained.stage,
        payloadBytes: update.payload.length,
        payloadHash: update.payloadHash.slice(0, 16),
        timings: { ...record.timings, publish: seconds },
        losses: record.losses,
        tokensPerS: Math.round(trained.tokensPerS),
      },
      "update published",
    );
    return seconds;
  }

  /** Stores the payload (served by hash) unless it is there already, then announces. */
  private async send(round: number, ann: Announcement, payload: Uint8Array): Promise<void> {
    const hash = parseHash32(ann.payloadHash, "announcement payloadHash");
    if (!(await this.deps.blobs.has(hash)))
      await this.deps.blobs.put(payload, { kind: "update", round, peer: this.deps.address }, hash);
    await this.deps.p2p.publishUpdate(ann);
    this.deps.metrics?.networkBytes.inc({ direction: "out", protocol: "update" }, payload.length);
  }
}
