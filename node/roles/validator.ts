import { MAX_ROUND_COMPONENTS } from "../chain/index.ts";
import { encodeStageHeldOut } from "../scoring/chain-components.ts";
import { runRounds } from "./loop.ts";
import { roundRecord } from "./round-keeper.ts";
import type { ValidatorServices } from "./services.ts";
import type { ModelState } from "./state-store.ts";
import { sleepUntil, wallDeadline } from "./timing.ts";

/**
 * The validator, one round at a time (DESIGN.md steps 5-7):
 *   1. hold θ_r like every peer, level with the chain
 *   2. after round r's submission deadline: fetch and decode every announced update (once)
 *   3. aggregate the gather set exactly as peers do → H(θ_{r+1})
 *   4. score (validity, sync, copies, arrival, equivocation, held-out and own-sample gains) in the time
 *      the scoring window leaves: the gather set first, then the rest in a seeded order; update ratings
 *   5. submitScores inside the scoring window, always with what was scored (once: a restart checks the
 *      store and the chain)
 *   6. finalizeRound when due; every K rounds publish a checkpoint and record it on chain
 */
export async function runValidator(s: ValidatorServices, signal: AbortSignal): Promise<void> {
  const { logger: log, clock, options, state: store, keeper, scorer, scores } = s;
  const startedAt = clock.now();
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
      const lateAfterMs = arrivalCutoff(clock, r, options.gatherGraceMs, startedAt);
      // Fetches stop where the submission must go out: an update not here by then cannot be scored anyway.
      const all = await keeper.gatherAll(r, wallDeadline(clock, s.chainWriter.submitBy(r) - SUBMIT_RESERVE_SECONDS));
      const received = keeper.received(r);
      // 3. the canonical next model, from the gather set's updates among those (first: it is what we
      // must submit; scoring gets whatever time is left)
      const used = await keeper.forStep(state, all.gathered);
      const { next, seconds: aggregateSeconds } = keeper.step(state, used);
      // 4. score: the gather set first, then the rest in a seeded order, until the window's budget is spent
      const seed = await s.chainWriter.heldoutSeed(r);
      const submitBy = s.chainWriter.submitBy(r) - SUBMIT_RESERVE_SECONDS;
      const plan = {
        first: new Set(used.map((g) => g.address)),
        secondsLeft: () => submitBy - clock.now(),
        lateAfterMs,
      };
      const { verdicts, lossBefore, heldOutLoss, stageHeldOut } = await scorer.score(
        state,
        { received, ...all, equivocators: keeper.equivocators(r) },
        seed,
        s.earlierPayloads(r),
        plan,
      );
      lastLoss = heldOutLoss;
      const scoreSeconds = (performance.now() - t0) / 1000;
      const peers = s.peers.peerList;
      const round = scores.rate(r, verdicts, peers, lossBefore);
      for (const v of verdicts.values()) {
        const { reason, final, heldOutGain, ownGain } = v.components;
        log.info(
          { round: r, peer: v.address, reason, final, heldOutGain, ownGain, samples: v.samples, arrival: v.arrival },
          "update scored",
        );
      }

      // 5-6. submit inside the window, once; finalize when due
      const tChain = performance.now();
      // The exact updates aggregated into θ_{r+1}: the contract commits to their root with the hash.
      const payloads = used.flatMap((g) => {
        const index = s.peers.indexOf(g.address);
        return index === undefined ? [] : [{ index, hash: g.payloadHash }];
      });
      // Held-out loss per stage once per submission, only when more than one stage is in effect (a
      // one-stage run's loss is already component 0 of every row; its bytes stay as before). The
      // encoding holds MAX_ROUND_COMPONENTS stages: a longer run reports its first ones.
      const roundComponents =
        stageHeldOut.length > 1 ? encodeStageHeldOut(stageHeldOut.slice(0, MAX_ROUND_COMPONENTS)) : [];
      await s.chainWriter.submitAndFinalize(
        { round: r, modelHash: next.hash, payloads, ...round, roundComponents },
        signal,
      );
      const chainSeconds = (performance.now() - tChain) / 1000;
      await scores.commit(r, verdicts);
      const timings = { gather: all.seconds, aggregate: aggregateSeconds, chain: chainSeconds };
      await store.commit(
        next,
        roundRecord(state, next, used, { timings, losses: { heldOut: heldOutLoss, score: scoreSeconds } }),
      );
      log.info(
        {
          round: r,
          heldOutLoss,
          ...(stageHeldOut.length > 1 ? { stageHeldOut } : {}),
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

/** Chain seconds kept back from the scoring budget for rating, encoding and sending the submission. */
const SUBMIT_RESERVE_SECONDS = 0.5;

/**
 * Wall-clock ms after which an announcement of round `r` arrived late: the submission deadline plus
 * the gather grace (gossip in flight), as this node saw it. Undefined when this process started after
 * the deadline: its inbox was not listening, so arrival times say nothing about the author.
 */
function arrivalCutoff(
  clock: ValidatorServices["clock"],
  r: number,
  graceMs: number,
  startedAt: number,
): number | undefined {
  const cutoff = clock.submissionDeadline(r) + graceMs / 1000;
  if (startedAt >= clock.submissionDeadline(r)) return undefined;
  return Date.now() + (cutoff - clock.now()) * 1000;
}
