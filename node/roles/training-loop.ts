import type { Logger } from "pino";
import type { ParamMap } from "../sparseloco/index.ts";
import { runRounds } from "./loop.ts";
import type { ModelLine } from "./model-line.ts";
import type { RoleOptions } from "./options.ts";
import type { Publisher } from "./publisher.ts";
import type { StateStore } from "./state-store.ts";
import { roundToTrain, trainingWindow } from "./time-budget.ts";
import { sleepUntil } from "./timing.ts";
import { type RoundTrainer, type TrainedRound, isSkipped } from "./trainer.ts";
import type { RoundTimes } from "./views.ts";

/** What the peer's training loop uses of its services (PeerServices has all of it). */
export interface TrainingLoopDependencies {
  logger: Logger;
  clock: Pick<RoundTimes, "now" | "roundAt" | "roundStart" | "submissionDeadline">;
  options: Pick<RoleOptions, "retryDelayMs">;
  state: Pick<StateStore, "publishedIn">;
  trainer: Pick<RoundTrainer, "train" | "published">;
  publisher: Pick<Publisher, "compress" | "publish">;
}

/**
 * Steps 2-4, time-budgeted, each round right after the previous one: round r+1 starts on the worker the
 * moment round r's inner loop ends, and round r's update is compressed and announced on this thread
 * while it trains (docs/roles.md "Off the critical path").
 */
export async function runTrainingLoop(
  s: TrainingLoopDependencies,
  line: ModelLine,
  signal: AbortSignal,
  onTokensPerS: (t: number) => void,
): Promise<void> {
  const { logger: log, clock, options, state: store, trainer } = s;
  let next = 0; // the first round neither trained nor given up
  let ownEnd: { round: number; params: ParamMap } | null = null; // where this peer's last round ended
  let pending: TrainedRound | null = null; // trained, not yet compressed and announced
  const flush = async () => {
    const trained = pending;
    pending = null;
    if (trained) await publishRound(s, trained);
  };
  try {
    await runRounds({ logger: log, retryDelayMs: options.retryDelayMs }, signal, async () => {
      const r = Math.max(next, roundToTrain(clock, clock.now()), 0);
      const window = trainingWindow(clock, r);
      if ((await store.publishedIn(r)) !== null) {
        await flush();
        next = r + 1; // published before a restart: never a second, different update
        return;
      }
      if (clock.now() < window.opens) {
        await flush(); // nothing to train yet (a peer at most one round ahead of the chain)
        await sleepUntil(clock, window.opens, signal);
      }
      // From where round r−1 ended (or the newest model held); θ_r replaces it once the model loop has it.
      const start = ownEnd?.round === r - 1 ? ownEnd.params : line.newest().params;
      const base = {
        get: () => line.get(r),
        wait: (until: number) => line.waitFor(r, () => clock.now() >= until, signal),
      };
      // The engine call is on the worker once train() returns its promise; round r−1 goes out meanwhile.
      const [trained] = await Promise.all([trainer.train(r, start, base, window.closes, signal), flush()]);
      next = r + 1;
      if (isSkipped(trained)) {
        ownEnd = null;
        if (!signal.aborted)
          log.warn({ round: r, reason: trained.skipped, steps: trained.steps }, "round not trained; skipping");
        return;
      }
      ownEnd = { round: r, params: trained.result.params };
      onTokensPerS(trained.tokensPerS);
      pending = trained;
    });
  } finally {
    await flush(); // a round trained before a stop still goes out
  }
}

/**
 * Steps 3-4 for a trained round. A failure is logged, not thrown: the round's update is lost (as a
 * round that missed its deadline), and the next round, already training, must not be retried.
 */
async function publishRound(s: TrainingLoopDependencies, trained: TrainedRound): Promise<void> {
  const { logger: log, publisher, trainer } = s;
  try {
    const { result } = trained;
    const losses = { trainFirst: result.losses[0], trainLast: result.losses[result.losses.length - 1] };
    const compressed = publisher.compress(trained);
    if (!compressed) return;
    const timings = {
      train: result.seconds,
      wall: trained.wallSeconds,
      utilization: trained.utilization,
      compress: compressed.seconds,
    };
    await publisher.publish(trained, compressed, { timings, losses });
    trainer.published((performance.now() - trained.endedAt) / 1000); // from the end of its inner loop
  } catch (err) {
    log.error({ round: trained.round, err: (err as Error).message ?? String(err) }, "publishing failed; update lost");
  }
}
