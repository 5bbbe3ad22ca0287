import { runRounds } from "./loop.ts";
import { roundRecord } from "./round-keeper.ts";
import type { ValidatorServices } from "./services.ts";
import type { ModelState } from "./state-store.ts";
import { sleepUntil } from "./timing.ts";

/**
 * The validator, one round at a time (DESIGN.md steps 5-7):
 *   1. hold θ_r like every peer, level with the chain
 *   2. after round r's submission deadline: fetch and decode every announced update (once)
 *   3. score each (validity, sync, copies, held-out and own-sample gains), update ratings
 *   4. aggregate the gather set exactly as peers do → H(θ_{r+1})
 *   5. submitScores inside the scoring window (once: a restart checks the store and the chain)
 *   6. finalizeRound when due; every K rounds publish a checkpoint and record it on chain
 */
export async function runValidator(s: ValidatorServices, signal: AbortSignal): Promise<void> {
  const { logger: log, clock, options, state: store, keeper, scorer, scores } = s;
  await s.stake();
  let state = await store.load();
  let prev: ModelState | null = null;
  await scores.load();
  let lastLoss: number | undefined;
  const heartbeat = s.heartbeat.start(() => ({ round: state.round, hash: state.hash, tokensPerS: 0, loss: lastLoss }));
  log.info({ round: state.round, hash: state.hash.slice(0, 16) }, "validator state loaded");

  try {
    await keeper.syncAround(state.round);
    await runRounds({ logger: log, retryDelayMs: options.retryDelayMs }, signal, async () => {
      // 1. level with the chain
      state = await keeper.catchUp(state, prev);
      const r = state.round;
      await sleepUntil(clock, clock.submissionDeadline(r) + options.gatherGraceMs / 1000, signal);

      // 2. every announced update, fetched and decoded once for scoring and aggregation
      const t0 = performance.now();
      const all = await keeper.gatherAll(r);
      const received = keeper.received(r);
      // 3. score
      const seed = await s.chainWriter.heldoutSeed(r);
      const { verdicts, lossBefore } = await scorer.score(state, { received, ...all }, seed, s.earlierPayloads(r));
      lastLoss = lossBefore;
      // 4. the canonical next model, from the gather set's updates among those
      const used = await keeper.forStep(state, all.gathered);
      const { next, seconds: aggregateSeconds } = keeper.step(state, used);
      const scoreSeconds = (performance.now() - t0) / 1000;
      const peers = s.peers.peerList;
      const round = scores.rate(r, verdicts, peers, lossBefore);
      for (const v of verdicts.values()) {
        const { reason, final, heldOutGain, ownGain } = v.components;
        log.info({ round: r, peer: v.address, reason, final, heldOutGain, ownGain }, "update scored");
      }

      // 5-6. submit inside the window, once; finalize when due
      const tChain = performance.now();
      // The exact updates aggregated into θ_{r+1}: the contract commits to their root with the hash.
      const payloads = used.flatMap((g) => {
        const index = s.peers.indexOf(g.address);
        return index === undefined ? [] : [{ index, hash: g.payloadHash }];
      });
      await s.chainWriter.submitAndFinalize({ round: r, modelHash: next.hash, payloads, ...round }, signal);
      const chainSeconds = (performance.now() - tChain) / 1000;
      await scores.commit(r, verdicts);
      const timings = { gather: all.seconds, aggregate: aggregateSeconds, chain: chainSeconds };
      await store.commit(
        next,
        roundRecord(state, next, used, { timings, losses: { heldOut: lossBefore, score: scoreSeconds } }),
      );
      log.info(
        {
          round: r,
          heldOutLoss: lossBefore,
          gathered: used.map((g) => g.address),
          hash: next.hash,
          chainSeconds,
          scoreSeconds,
        },
        "round scored",
      );
      prev = state;
      state = next;
      await s.checkpointer.maybeCheckpoint(state);
      await keeper.forget(r);
    });
  } finally {
    heartbeat.stop();
  }
}
