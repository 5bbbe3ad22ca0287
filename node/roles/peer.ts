import { createHash } from "node:crypto";
import { assignSamples, assignmentBatches } from "../data/index.ts";
import { l2Norm } from "../scoring/index.ts";
import { INLINE_PAYLOAD_LIMIT } from "../p2p/index.ts";
import { type CompressedTensor, SparseLocoError, compressTensor, encodeUpdate } from "../sparseloco/index.ts";
import { assertAdversaryAllowed, publishAdversarial } from "./adversary.ts";
import type { RunContext } from "./context.ts";
import { UpdateInbox } from "./inbox.ts";
import { runRounds } from "./loop.ts";
import { type ModelState, commitState, loadState } from "./model-state.ts";
import { catchUp, gatherAndStep, roundRecord } from "./rounds.ts";
import { startHeartbeat } from "./status.ts";
import { sleepUntil } from "./timing.ts";

/**
 * The peer (trainer), one round at a time, as DESIGN.md "A round, end to end":
 *   1. start: hold θ_r and H(θ_r), level with the chain (catch-up, hash check of the last outer step)
 *   2. train H inner AdamW steps on the round's assigned samples
 *   3. compress Δ = θ_r − θ_end with error feedback (SparseLoCo), persist EF + payload
 *   4. announce the update on gossip and serve the payload by hash
 *   5. after the submission deadline: gather the round's gather set, aggregate, outer step, commit
 */
export async function runPeer(ctx: RunContext, signal: AbortSignal): Promise<void> {
  const log = ctx.logger;
  if (ctx.config.adversary !== undefined) await assertAdversaryAllowed(ctx); // test networks only (issue 9)
  if (!(await ctx.client.isPeer(ctx.address))) {
    const metadata = JSON.stringify({ multiaddrs: ctx.p2p.multiaddrs.map(String) });
    const { index } = await ctx.client.registerPeer(metadata, { bondWei: ctx.runParams.peerBond });
    log.info({ index }, "registered as a peer");
  }
  await ctx.directory.refresh(true);
  const inbox = new UpdateInbox({
    p2p: ctx.p2p,
    store: ctx.store,
    specs: ctx.specs,
    decode: ctx.run.sparseloco,
    logger: log,
  });
  let state = await loadState(ctx);
  log.info(
    {
      round: state.round,
      hash: state.hash,
      published: !!state.published,
      efNorm: l2Norm(state.errorFeedback.values()),
    },
    "state loaded",
  );
  let prev: ModelState | null = null;
  let tokensPerS = 0;
  const heartbeat = startHeartbeat(ctx, () => ({ round: state.round, hash: state.hash, tokensPerS }));

  try {
    // A restarted node asks its neighbours for the announcements it missed while down.
    await ctx.p2p.syncAnnouncements(Math.max(0, state.round - 1), state.round + 1).catch(() => 0);
    await runRounds(ctx, signal, async () => {
      // 1. level with the chain
      await ctx.chain.sync();
      state = await catchUp(ctx, inbox, state, prev);
      const r = state.round;
      const deadline = ctx.clock.submissionDeadline(r);
      ctx.metrics.round.set(r);

      // 2-4. train, compress, announce (unless already published before a restart, or too late)
      const timings: Record<string, number> = {};
      const losses: Record<string, number> = {};
      if (!state.published && deadline - ctx.clock.now() > ctx.options.minTrainSeconds) {
        await sleepUntil(ctx.clock, ctx.clock.roundStart(r), signal);
        const out = await trainAndPublish(ctx, inbox, state, timings, losses);
        if (out) {
          state = out.state;
          tokensPerS = out.tokensPerS;
        }
      } else if (!state.published) {
        log.warn(
          { round: r, late: ctx.clock.now() - deadline },
          "too late to train this round; skipping to the outer step",
        );
      }

      // 5. gather and outer step after the deadline (plus a grace for gossip in flight)
      await sleepUntil(ctx.clock, deadline + ctx.options.gatherGraceMs / 1000, signal);
      const step = await gatherAndStep(ctx, inbox, state);
      timings.gather = step.gatherSeconds;
      timings.aggregate = step.aggregateSeconds;
      await commitState(ctx.store, step.next, roundRecord(state, step.next, step.gathered, { timings, losses }));
      for (const d of step.dropped)
        log.warn({ round: r, peer: d.address, reason: d.reason, detail: d.detail }, "update left out");
      log.info(
        {
          round: r,
          gathered: step.gathered.map((g) => g.address),
          hash: step.next.hash,
          efNorm: l2Norm(step.next.errorFeedback.values()),
          timings,
          losses,
        },
        "outer step applied",
      );
      ctx.metrics.phaseSeconds.observe({ phase: "gather" }, step.gatherSeconds);
      ctx.metrics.phaseSeconds.observe({ phase: "aggregate" }, step.aggregateSeconds);
      ctx.metrics.updatesGathered.set(step.gathered.length);
      prev = state;
      state = step.next;
      inbox.prune(r - 8);
      await ctx.store.pruneBlobs(r).catch(() => 0);
    });
  } finally {
    heartbeat.stop();
  }
}

/** Steps 2-4 of the round. Returns the published state, or null when the pseudo-gradient was unusable. */
async function trainAndPublish(
  ctx: RunContext,
  inbox: UpdateInbox,
  state: ModelState,
  timings: Record<string, number>,
  losses: Record<string, number>,
): Promise<{ state: ModelState; tokensPerS: number } | null> {
  const { run, dataset, model, specs } = ctx;
  const r = state.round;
  const H = run.train.innerSteps;
  const assignment = assignSamples(
    {
      runId: run.runId,
      round: r,
      address: ctx.address,
      count: H * run.train.batchSize,
      seqLen: model.seqLen,
      batchSize: run.train.batchSize,
    },
    dataset,
  );
  const batches = assignmentBatches(assignment, dataset, run.train.batchSize, model.seqLen);
  const trained = await ctx.engine.train(state.params, batches, H, { stepOffset: r * H });
  timings.train = trained.seconds;
  losses.trainFirst = trained.losses[0];
  losses.trainLast = trained.losses[trained.losses.length - 1];
  const tokensPerS = trained.tokens / trained.seconds;
  ctx.metrics.phaseSeconds.observe({ phase: "train" }, trained.seconds);
  ctx.metrics.loss.set({ kind: "train" }, losses.trainLast);
  ctx.metrics.tokensPerSecond.set(tokensPerS);
  ctx.metrics.tokensTotal.inc(trained.tokens);

  // Δ = θ_r − θ_end: the descent direction is −Δ (DESIGN step 2); EF and top-k per tensor (step 3).
  const t0 = performance.now();
  const ef = new Map([...state.errorFeedback].map(([k, v]) => [k, v.slice()]));
  const compressed: CompressedTensor[] = [];
  try {
    for (const spec of specs) {
      const theta = state.params.get(spec.name)!;
      const end = trained.params.get(spec.name)!;
      const delta = new Float32Array(theta.length);
      for (let i = 0; i < delta.length; i++) delta[i] = theta[i] - end[i];
      compressed.push(compressTensor(delta, ef.get(spec.name)!, spec, run.sparseloco));
    }
  } catch (err) {
    if (err instanceof SparseLocoError) {
      ctx.logger.error({ round: r, err: err.message }, "pseudo-gradient not finite; not publishing this round");
      return null;
    }
    throw err;
  }
  const payload = encodeUpdate(compressed);
  const payloadHash = createHash("sha256").update(payload).digest("hex");
  timings.compress = (performance.now() - t0) / 1000;
  ctx.metrics.phaseSeconds.observe({ phase: "compress" }, timings.compress);

  // Persist EF-after-compress, the payload and the "published" mark in one batch before announcing:
  // a crash after this point resumes without retraining and never announces a second, different update.
  const published: ModelState = { ...state, errorFeedback: ef, published: { payloadHash } };
  const blob = ctx.store.blobs.putOps(payload, { kind: "update", round: r, peer: ctx.address }, payloadHash);
  await ctx.store.peerState.commitRound({
    round: r,
    modelHash: state.hash,
    params: state.params,
    errorFeedback: ef,
    record: {
      ...roundRecord(state, state, []),
      newModelHash: undefined,
      ownPayloadHash: payloadHash,
      status: "published",
      timings,
      losses,
    },
    extraOps: blob.ops,
  });
  const ann = {
    round: r,
    baseModelHash: Buffer.from(state.hash, "hex"),
    payloadHash: Buffer.from(payloadHash, "hex"),
    payloadBytes: payload.length,
    dataDigest: Buffer.from(assignment.dataDigest.slice(2), "hex"),
    inlinePayload: payload.length <= INLINE_PAYLOAD_LIMIT / 4 ? new Uint8Array(payload) : undefined,
  };
  // A test adversary (node/roles/adversary.ts) publishes its misbehaviour instead of `ann`.
  const sent =
    ctx.config.adversary !== undefined
      ? await publishAdversarial(ctx, inbox, { round: r, compressed, payload, ann })
      : ann;
  if (sent === ann) await ctx.p2p.publishUpdate(ann);
  if (sent) inbox.add({ runId: run.runId, multiaddrs: [], ...sent }, { peerId: ctx.p2p.peerId, address: ctx.address });
  ctx.metrics.networkBytes.inc({ direction: "out", protocol: "update" }, payload.length);
  ctx.logger.info(
    {
      round: r,
      payloadBytes: payload.length,
      payloadHash: payloadHash.slice(0, 16),
      timings,
      losses,
      tokensPerS: Math.round(tokensPerS),
    },
    "update published",
  );
  return { state: published, tokensPerS };
}
