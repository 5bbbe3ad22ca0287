import type { Provider } from "ethers";
import type { Logger } from "pino";
import { type PayloadEntry, type TrainingRunClient, payloadRoot } from "../chain/index.ts";
import { type Hash32, hash32To0x } from "../hash/index.ts";
import type { Metrics } from "../metrics/index.ts";
import type { SubmissionRepository } from "../store/index.ts";
import { sleepUntil } from "./timing.ts";
import type { ChainReader, RoundTimes } from "./views.ts";

export interface ValidatorChainOptions {
  /** A transaction sent later than this before a window closes may be mined after it: don't send. */
  txMarginSeconds: number;
}

export interface ValidatorChainDependencies {
  address: string;
  client: Pick<
    TrainingRunClient,
    "hasSubmitted" | "submitScores" | "roundSnapshot" | "submissionCount" | "finalizeRound"
  >;
  provider: Pick<Provider, "getBlock">;
  chain: ChainReader;
  clock: RoundTimes;
  submissions: Pick<SubmissionRepository, "get" | "record">;
  metrics: Pick<Metrics, "chainTxSeconds"> | null;
  logger: Logger;
}

/**
 * What a validator submits for a round (DESIGN step 6): H(θ_{r+1}), the exact updates it aggregated into
 * it (peer index, payload sha256: the contract commits to their root with the hash), scores, components.
 */
export interface RoundSubmission {
  round: number;
  modelHash: Hash32;
  payloads: PayloadEntry[];
  scores: number[];
  components: number[][];
  /** Once per submission (node/scoring/chain-components.ts encodeStageHeldOut); [] or absent: none. */
  roundComponents?: number[];
}

/** A validator's transactions of a round: submit its scores once, then finalize when due (DESIGN step 7). */
export class ValidatorChain {
  constructor(
    private readonly opts: ValidatorChainOptions,
    private readonly deps: ValidatorChainDependencies,
  ) {}

  /** The held-out seed: the newest block's hash after the deadline, which no peer knew when it trained. */
  async heldoutSeed(round: number): Promise<string> {
    return (await this.deps.provider.getBlock("latest"))?.hash ?? `round-${round}`;
  }

  /** Chain time after which a submission for `round` is no longer sent (window close − tx margin). */
  submitBy(round: number): number {
    return this.deps.clock.scoringWindow(round).closesAt - this.opts.txMarginSeconds;
  }

  /**
   * Submits inside the scoring window (once: the store and the chain are asked first, so a restarted
   * validator never pays twice), then finalizes. Returns false when the window closed before scoring
   * finished (nothing sent). Re-reads the chain view at the end.
   */
  async submitAndFinalize(s: RoundSubmission, signal: AbortSignal): Promise<boolean> {
    const { closesAt } = this.deps.clock.scoringWindow(s.round);
    if (this.deps.clock.now() >= this.submitBy(s.round)) {
      this.deps.logger.warn({ round: s.round }, "scoring window closed before scoring finished; not submitting");
      await this.deps.chain.sync();
      return false;
    }
    await this.submitOnce(s);
    await this.finalizeWhenDue(s.round, closesAt, signal);
    await this.deps.chain.sync();
    return true;
  }

  private async submitOnce(s: RoundSubmission): Promise<void> {
    const { client, logger } = this.deps;
    const done = await this.deps.submissions.get(s.round);
    if (done?.status === "confirmed" || (await client.hasSubmitted(s.round, this.deps.address))) {
      logger.info({ round: s.round }, "scores already submitted for this round");
      return;
    }
    const t = performance.now();
    const res = await client.submitScores({ ...s, modelHash: hash32To0x(s.modelHash) });
    this.deps.metrics?.chainTxSeconds.observe({ method: "submitScores" }, (performance.now() - t) / 1000);
    await this.deps.submissions.record({
      round: s.round,
      txHash: res.hash,
      status: "confirmed",
      modelHash: s.modelHash,
    });
    logger.info(
      { round: s.round, tx: res.hash, included: s.payloads.length, payloadRoot: payloadRoot(s.payloads) },
      "scores submitted",
    );
  }

  /**
   * Early when every validator of the round's stake snapshot has submitted, else when the window closes;
   * finalizeRound pages finalizeRoundStep until done. Another finalizer is success.
   */
  private async finalizeWhenDue(round: number, closesAt: number, signal: AbortSignal): Promise<void> {
    const { client, chain } = this.deps;
    const { validators } = await client.roundSnapshot(round);
    if ((await client.submissionCount(round)) < validators) await sleepUntil(this.deps.clock, closesAt + 1, signal);
    await chain.sync();
    if (chain.isSettled(round)) return;
    try {
      const t = performance.now();
      const res = await client.finalizeRound(round);
      this.deps.metrics?.chainTxSeconds.observe({ method: "finalizeRound" }, (performance.now() - t) / 1000);
      this.deps.logger.info({ round, tx: res.hash, steps: res.steps.length, skipped: res.skipped }, "round finalized");
    } catch (err) {
      // Another validator (or anyone) may have finalized first: that is success.
      await chain.sync();
      if (!chain.isSettled(round)) throw err;
    }
  }
}
