import { l2Norm } from "../scoring/index.ts";
import { runRounds } from "./loop.ts";
import { ModelLine } from "./model-line.ts";
import type { PeerServices } from "./services.ts";
import { roundRecord } from "./round-keeper.ts";
import type { ModelState } from "./state-store.ts";
import { sleepUntil, wallDeadline } from "./timing.ts";
import { runTrainingLoop } from "./training-loop.ts";

/**
 * The peer (trainer), as DESIGN.md "A round, end to end", in two loops that run side by side and share
 * the newest models (`ModelLine`), so that training never waits on the network (docs/roles.md):
 *
 * the model loop, one round r at a time:
 *   1. level with the chain (catch-up, hash check of the last outer step)
 *   5. after round r's submission deadline: gather its updates, aggregate, outer step → θ_{r+1}, commit
 *
 * the training loop (training-loop.ts), one round r at a time, back to back:
 *   2. inner steps on the round's assigned samples until the time budget's cutoff (or H steps), from
 *      where round r−1 ended (at once, even before round r opens), moved onto θ_r when the model loop has it
 *   3. compress Δ = θ_r − θ_end with error feedback (SparseLoCo), persist EF + payload
 *   4. announce the update on gossip and serve the payload by hash
 *   (3-4 of round r run on this thread while the worker trains round r+1)
 */
export async function runPeer(s: PeerServices, signal: AbortSignal): Promise<void> {
  const { logger: log, state: store } = s;
  await s.register();
  const loaded = await store.load();
  const line = new ModelLine();
  line.put(loaded);
  const efNorm = () => l2Norm(store.errorFeedback.values());
  log.info(
    {
      round: loaded.round,
      hash: loaded.hash,
      published: (await store.publishedIn(loaded.round)) !== null,
      efNorm: efNorm(),
    },
    "state loaded",
  );
  let tokensPerS = 0;
  const heartbeat = s.heartbeat.start(() => {
    const m = line.newest();
    return { round: m.round, hash: m.hash, tokensPerS };
  });
  // A loop that ends with an error no retry fixes (loop.ts FATAL_ROLE_ERRORS) stops the other one too.
  const both = new AbortController();
  const stopBoth = () => both.abort();
  signal.addEventListener("abort", stopBoth, { once: true });
  const fatal = (err: unknown) => {
    both.abort();
    throw err;
  };
  try {
    await s.keeper.syncAround(loaded.round); // a restarted node asks its neighbours for what it missed
    await Promise.all([
      modelLoop(s, line, loaded, efNorm, both.signal).catch(fatal),
      runTrainingLoop(s, line, both.signal, (t) => {
        tokensPerS = t;
      }).catch(fatal),
    ]);
  } finally {
    signal.removeEventListener("abort", stopBoth);
    heartbeat.stop();
  }
}

/** Steps 1 and 5: θ_r level with the chain, then θ_{r+1} from round r's updates once its deadline passed. */
async function modelLoop(
  s: PeerServices,
  line: ModelLine,
  loaded: ModelState,
  efNorm: () => number,
  signal: AbortSignal,
): Promise<void> {
  const { logger: log, clock, options, state: store, keeper } = s;
  let state = loaded;
  let prev: ModelState | null = null;
  await runRounds({ logger: log, retryDelayMs: options.retryDelayMs }, signal, async () => {
    // 1. level with the chain
    state = await keeper.catchUp(state, prev);
    line.put(state);
    const r = state.round;

    // 5. gather and outer step after the deadline (plus a grace for gossip in flight)
    await sleepUntil(clock, clock.submissionDeadline(r) + options.gatherGraceMs / 1000, signal);
    // Fetches stop when round r's scoring window closes: from then on the chain's canonical list
    // decides θ_{r+1} (catch-up replays it), and what we still lack is fetched by hash there.
    const gather = await keeper.gather(state, wallDeadline(clock, clock.scoringWindow(r).closesAt));
    const { next, seconds } = keeper.step(state, gather.gathered);
    const timings = { gather: gather.seconds, aggregate: seconds };
    await store.commit(next, roundRecord(state, next, gather.gathered, { timings }));
    line.put(next);
    for (const d of gather.dropped)
      log.warn({ round: r, peer: d.address, reason: d.reason, detail: d.detail }, "update left out");
    log.info(
      { round: r, gathered: gather.gathered.map((g) => g.address), hash: next.hash, efNorm: efNorm(), timings },
      "outer step applied",
    );
    prev = state;
    state = next;
    await keeper.forget(r);
  });
}
