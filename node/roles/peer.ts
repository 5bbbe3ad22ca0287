import { l2Norm } from "../scoring/index.ts";
import type { RoundRecord } from "../store/index.ts";
import { runRounds } from "./loop.ts";
import { roundRecord } from "./round-keeper.ts";
import type { PeerServices } from "./services.ts";
import type { ModelState } from "./state-store.ts";
import { sleepUntil } from "./timing.ts";

/**
 * The peer (trainer), one round at a time, as DESIGN.md "A round, end to end":
 *   1. start: hold θ_r and H(θ_r), level with the chain (catch-up, hash check of the last outer step)
 *   2. train H inner AdamW steps on the round's assigned samples
 *   3. compress Δ = θ_r − θ_end with error feedback (SparseLoCo), persist EF + payload
 *   4. announce the update on gossip and serve the payload by hash
 *   5. after the submission deadline: gather the round's gather set, aggregate, outer step, commit
 */
export async function runPeer(s: PeerServices, signal: AbortSignal): Promise<void> {
  const { logger: log, clock, options, state: store, keeper, trainer, publisher } = s;
  await s.register();
  let state = await store.load();
  const efNorm = () => l2Norm(store.errorFeedback.values());
  log.info({ round: state.round, hash: state.hash, published: !!state.published, efNorm: efNorm() }, "state loaded");
  let prev: ModelState | null = null;
  let tokensPerS = 0;
  const heartbeat = s.heartbeat.start(() => ({ round: state.round, hash: state.hash, tokensPerS }));

  try {
    await keeper.syncAround(state.round); // a restarted node asks its neighbours for what it missed
    await runRounds({ logger: log, retryDelayMs: options.retryDelayMs }, signal, async () => {
      // 1. level with the chain
      state = await keeper.catchUp(state, prev);
      const r = state.round;
      const deadline = clock.submissionDeadline(r);
      const timings: RoundRecord["timings"] = {};
      const losses: RoundRecord["losses"] = {};

      // 2-4. train, compress, announce (unless already published before a restart, or too late)
      if (!state.published && deadline - clock.now() > options.minTrainSeconds) {
        await sleepUntil(clock, clock.roundStart(r), signal);
        const trained = await trainer.train(state);
        timings.train = trained.result.seconds;
        losses.trainFirst = trained.result.losses[0];
        losses.trainLast = trained.result.losses[trained.result.losses.length - 1];
        tokensPerS = trained.tokensPerS;
        const compressed = publisher.compress(state, trained);
        if (compressed) {
          timings.compress = compressed.seconds;
          state = await publisher.publish(state, trained, compressed, { timings, losses });
        }
      } else if (!state.published) {
        log.warn(
          { round: r, late: clock.now() - deadline },
          "too late to train this round; skipping to the outer step",
        );
      }

      // 5. gather and outer step after the deadline (plus a grace for gossip in flight)
      await sleepUntil(clock, deadline + options.gatherGraceMs / 1000, signal);
      const gather = await keeper.gather(state);
      const { next, seconds } = keeper.step(state, gather.gathered);
      timings.gather = gather.seconds;
      timings.aggregate = seconds;
      await store.commit(next, roundRecord(state, next, gather.gathered, { timings, losses }));
      for (const d of gather.dropped)
        log.warn({ round: r, peer: d.address, reason: d.reason, detail: d.detail }, "update left out");
      log.info(
        {
          round: r,
          gathered: gather.gathered.map((g) => g.address),
          hash: next.hash,
          efNorm: efNorm(),
          timings,
          losses,
        },
        "outer step applied",
      );
      prev = state;
      state = next;
      await keeper.forget(r);
    });
  } finally {
    heartbeat.stop();
  }
}
