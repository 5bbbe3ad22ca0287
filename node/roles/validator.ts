import { createHash } from "node:crypto";
import { parseEther } from "ethers";
import { type PayloadEntry, payloadRoot } from "../chain/index.ts";
import { saveCheckpoint } from "../model/index.ts";
import { encodeChainComponents } from "../scoring/chain-components.ts";
import { type PeerRating, contractScore, ratingObservation, toUint16Score, updateRatings } from "../scoring/index.ts";
import type { RunContext } from "./context.ts";
import { UpdateInbox } from "./inbox.ts";
import { runRounds } from "./loop.ts";
import { type ModelState, commitState, loadState } from "./model-state.ts";
import { catchUp, gatherAndStep, roundRecord } from "./rounds.ts";
import { earlierPayloads, scoreRound } from "./scorer.ts";
import { startHeartbeat } from "./status.ts";
import { sleepUntil } from "./timing.ts";

/**
 * The validator, one round at a time (DESIGN.md steps 5-7):
 *   1. hold θ_r like every peer, level with the chain
 *   2. after round r's submission deadline: fetch every announced update
 *   3. score each (validity, sync, copies, held-out and own-sample gains), update ratings
 *   4. aggregate the gather set exactly as peers do → H(θ_{r+1})
 *   5. submitScores inside the scoring window (once: a restart checks the store and the chain)
 *   6. finalizeRound when due; every K rounds publish a checkpoint and record it on chain
 */
export async function runValidator(ctx: RunContext, signal: AbortSignal): Promise<void> {
  const log = ctx.logger;
  await ensureStake(ctx);
  const inbox = new UpdateInbox({
    p2p: ctx.p2p,
    store: ctx.store,
    specs: ctx.specs,
    decode: ctx.run.sparseloco,
    logger: log,
  });
  let state = await loadState(ctx);
  let prev: ModelState | null = null;
  let ratings = new Map<string, PeerRating>([...(await ctx.store.ratings.all())].map(([a, r]) => [a, r as PeerRating]));
  let lastLoss: number | undefined;
  const heartbeat = startHeartbeat(ctx, () => ({
    round: state.round,
    hash: state.hash,
    tokensPerS: 0,
    loss: lastLoss,
  }));
  log.info({ round: state.round, hash: state.hash.slice(0, 16) }, "validator state loaded");

  try {
    await ctx.p2p.syncAnnouncements(Math.max(0, state.round - 1), state.round + 1).catch(() => 0);
    await runRounds(ctx, signal, async () => {
      await ctx.chain.sync();
      state = await catchUp(ctx, inbox, state, prev);
      const r = state.round;
      ctx.metrics.round.set(r);
      const deadline = ctx.clock.submissionDeadline(r);
      const window = ctx.clock.scoringWindow(r);
      await sleepUntil(ctx.clock, deadline + ctx.options.gatherGraceMs / 1000, signal);

      // 2-4. gather everything announced, score it, and compute the canonical next model.
      const t0 = performance.now();
      await ctx.directory.refresh(true);
      const received = inbox.received(r);
      const all = await inbox.collect(r, new Set(ctx.directory.peerList), null, ctx.options.fetchTimeoutMs);
      const seed = (await ctx.provider.getBlock("latest"))?.hash ?? `round-${r}`;
      const { verdicts, lossBefore } = await scoreRound(
        ctx,
        state,
        received,
        all.gathered,
        all.dropped,
        seed,
        earlierPayloads(inbox, r),
      );
      lastLoss = lossBefore;
      ctx.metrics.loss.set({ kind: "heldout" }, lossBefore);
      const step = await gatherAndStep(ctx, inbox, state);
      const scoreSeconds = (performance.now() - t0) / 1000;

      const observed = new Map([...verdicts].map(([a, v]) => [a, ratingObservation(v.components)]));
      ratings = updateRatings(ratings, observed, { round: r });
      const peers = ctx.directory.peerList;
      const scores = peers.map((a) =>
        toUint16Score(verdicts.has(a) ? contractScore(verdicts.get(a)!.components.final, ratings.get(a)) : 0),
      );
      const missing = encodeChainComponents({ heldOutLossBefore: lossBefore, missing: true, reason: "missing" });
      const components = peers.map((a) => verdicts.get(a)?.chain ?? missing);
      // The exact updates aggregated into step.next: the contract commits to their root with the hash.
      const payloads = step.gathered
        .map((g) => ({ index: ctx.directory.indexOf(g.address), hash: g.payloadHash }))
        .filter((p): p is PayloadEntry => p.index !== undefined);
      for (const v of verdicts.values()) {
        ctx.metrics.scoreOutcomes.inc({ reason: v.components.reason });
        log.info(
          {
            round: r,
            peer: v.address,
            reason: v.components.reason,
            final: v.components.final,
            heldOutGain: v.components.heldOutGain,
            ownGain: v.components.ownGain,
          },
          "update scored",
        );
      }

      // 5. submit inside the window, once.
      const tChain = performance.now();
      if (ctx.clock.now() + ctx.options.txMarginSeconds < window.closesAt) {
        await submitOnce(ctx, r, step.next.hash, payloads, scores, components);
        // 6. finalize: early when every validator has submitted, else when the window closes.
        await finalizeWhenDue(ctx, r, window.closesAt, signal);
      } else {
        log.warn({ round: r }, "scoring window closed before scoring finished; not submitting");
      }
      await ctx.chain.sync();
      const chainSeconds = (performance.now() - tChain) / 1000;
      await ctx.store.ratings.commitRound(
        r,
        ratings,
        [...verdicts.values()].map((v) => ({
          round: r,
          address: v.address,
          final: v.components.final,
          reason: v.components.reason,
        })),
      );
      await commitState(
        ctx.store,
        step.next,
        roundRecord(state, step.next, step.gathered, {
          timings: { gather: step.gatherSeconds, aggregate: step.aggregateSeconds, chain: chainSeconds },
          losses: { heldOut: lossBefore, score: scoreSeconds },
        }),
      );
      log.info(
        {
          round: r,
          heldOutLoss: lossBefore,
          gathered: step.gathered.map((g) => g.address),
          hash: step.next.hash,
          chainSeconds,
          scoreSeconds,
        },
        "round scored",
      );
      prev = state;
      state = step.next;
      await maybeCheckpoint(ctx, state);
      inbox.prune(r - 8);
      await ctx.store.pruneBlobs(r).catch(() => 0);
    });
  } finally {
    heartbeat.stop();
  }
}

async function ensureStake(ctx: RunContext): Promise<void> {
  const { amount } = await ctx.client.stakeOf(ctx.address);
  const want = parseEther(ctx.config.stake);
  const min = ctx.runParams.minStake;
  if (amount >= min && amount > 0n) return;
  // biome-ignore lint/complexity/useMathMinMax: bigint, Math.max does not apply
  const value = want > min ? want : min;
  await ctx.client.stake(value - amount);
  ctx.logger.info({ stake: value.toString() }, "staked as a validator");
}

async function submitOnce(
  ctx: RunContext,
  round: number,
  hash: string,
  payloads: PayloadEntry[],
  scores: number[],
  components: number[][],
): Promise<void> {
  const done = await ctx.store.submissions.get(round);
  if (done?.status === "confirmed" || (await ctx.client.hasSubmitted(round, ctx.address))) {
    ctx.logger.info({ round }, "scores already submitted for this round");
    return;
  }
  const t = performance.now();
  const res = await ctx.client.submitScores({ round, modelHash: `0x${hash}`, payloads, scores, components });
  ctx.metrics.chainTxSeconds.observe({ method: "submitScores" }, (performance.now() - t) / 1000);
  await ctx.store.submissions.record({ round, txHash: res.hash, status: "confirmed", modelHash: hash });
  ctx.logger.info(
    { round, tx: res.hash, included: payloads.length, payloadRoot: payloadRoot(payloads) },
    "scores submitted",
  );
}

async function finalizeWhenDue(ctx: RunContext, round: number, closesAt: number, signal: AbortSignal): Promise<void> {
  // Early finalize needs every validator of the round's stake snapshot; else wait for the window to close.
  const { validators } = await ctx.client.roundSnapshot(round);
  if ((await ctx.client.submissionCount(round)) < validators) await sleepUntil(ctx.clock, closesAt + 1, signal);
  await ctx.chain.sync();
  if (ctx.chain.isSettled(round)) return;
  try {
    const t = performance.now();
    const res = await ctx.client.finalizeRound(round); // finalizeRoundStep pages until done
    ctx.metrics.chainTxSeconds.observe({ method: "finalizeRound" }, (performance.now() - t) / 1000);
    ctx.logger.info({ round, tx: res.hash, steps: res.steps.length, skipped: res.skipped }, "round finalized");
  } catch (err) {
    // Another validator (or anyone) may have finalized first: that is success.
    await ctx.chain.sync();
    if (!ctx.chain.isSettled(round)) throw err;
  }
}

/** Every K finalized rounds: θ_{r+1} as a checkpoint blob, announced, and recorded on chain. */
async function maybeCheckpoint(ctx: RunContext, state: ModelState): Promise<void> {
  const r = state.round - 1;
  const f = ctx.chain.finalized.get(r);
  if (!f || state.round % ctx.run.validator.checkpointEvery !== 0 || f.modelHash !== state.hash) return;
  if (ctx.chain.checkpoint && ctx.chain.checkpoint.round >= r) return;
  const bytes = saveCheckpoint(ctx.model, state.params, state.round);
  const hash = createHash("sha256").update(bytes).digest("hex");
  await ctx.store.blobs.put(bytes, { kind: "checkpoint", round: state.round }, hash);
  await ctx.p2p.publishCheckpoint({
    round: r,
    modelHash: Buffer.from(state.hash, "hex"),
    payloadHash: Buffer.from(hash, "hex"),
    payloadBytes: bytes.length,
    uri: `blob:${hash}`,
  });
  await ctx.client.recordCheckpoint(r, `0x${state.hash}`, `blob:${hash}`);
  ctx.logger.info({ round: r, bytes: bytes.length, blob: hash.slice(0, 16) }, "checkpoint recorded");
}
