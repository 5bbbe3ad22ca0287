import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ADVERSARY_MODES } from "../fixtures/adversary.ts";
import { decodeChainComponents } from "../../node/scoring/chain-components.ts";
import { LocalNetwork } from "../../node/testnet/network.ts";
import {
  type RoundEvents,
  chainNow,
  committedHeldOutLoss,
  logLines,
  metricSum,
  nodeAddress,
  roundEvents,
  scrapeMetrics,
  rewardTotals,
  sleepMs,
  startPeers,
} from "../fixtures/e2e-helpers.ts";
import { RogueNode } from "../fixtures/rogue-node.ts";

/**
 * Issue 9: 3 honest + 2 adversarial peers (a different misbehaviour each round) and an unregistered
 * outsider, against 1 validator, for rounds 0..LAST; then the same 3 honest peers alone with the same
 * seeds (same run config, same keys, hence the same data assignments) as the baseline.
 *
 * gatherSize is 3 (the honest count): from round 1 on, the outer step takes the top-3 peers by the
 * chain's rating, which adversaries (score 0) never reach; in round 0 everyone is gathered, so the
 * round-0 modes are ones the gather step itself drops (undecodable payloads).
 */
const ROUND = 15;
const SUBMISSION = 3;
const SCORING = 15; // a whole round: the validator scores round r while peers train r+1
const LAST = 5; // rounds 0..5 finalized: 6 outer steps
const DATASET = join(tmpdir(), "cotrain-dataset-brown");
const RUN = {
  runId: "e2e-adversaries",
  model: { preset: "nano" as const },
  train: { innerSteps: 6, batchSize: 8 },
  validator: { heldoutSamples: 8, ownSamples: 8 },
};
const DEPLOY = {
  roundSeconds: ROUND,
  submissionSeconds: SUBMISSION,
  scoringSeconds: SCORING,
  genesisDelaySeconds: 10,
  gatherSize: 3,
};
/** One mode per round (index = round); together they cover every mode of tests/fixtures/adversary.ts. */
const ADVERSARIES = ["garbage,norm1000,copy,zero,replay,noise", "nan,wrongbase,noise,indices,flood,zero"];
const EVAL = { preset: "nano" as const, samples: 64, batchSize: 8, seed: "issue-9-fixed-heldout" };

/** The chain reason(s) each mode must produce (node/scoring/chain-components.ts REASONS). */
const EXPECTED: Record<string, string[]> = {
  garbage: ["decode_error"],
  nan: ["decode_error"],
  indices: ["decode_error"],
  norm1000: ["norm_out_of_bounds"],
  copy: ["copy"],
  replay: ["copy"],
  wrongbase: ["wrong_base_hash"],
  zero: ["no_gain"],
  noise: ["no_gain"],
  // the first of the flood is accepted (a garbage payload); the rest are EQUIVOCATION rejects, and a
  // validator that received a second version holds the proof: "equivocation". One that only saw the
  // first (relays drop the rest) scores the garbage.
  flood: ["equivocation", "decode_error", "missing"],
};

interface RunResult {
  dir: string;
  events: RoundEvents;
  metrics: string;
  validatorLog: ReturnType<typeof logLines>;
  debugLog: ReturnType<typeof logLines>;
  hashes: Map<string, Map<number, string>>;
  peers: string[];
  /** Peer addresses by contract registry index (the order of score and component rows). */
  registry: string[];
  adversaries: string[];
  rogue?: string;
  final: { round: number; hash: string; loss: number };
  seconds: number;
}

async function runNetwork(name: string, adversaries: string[]): Promise<RunResult> {
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), `cotrain-e2e-${name}-`));
  const honest = 3;
  const net = await LocalNetwork.start({
    dir,
    peers: honest + adversaries.length,
    validators: 1,
    backend: "wasm",
    logLevel: "info",
    datasetDir: DATASET,
    anvilPort: 0,
    blockTime: 1,
    run: RUN,
    deploy: DEPLOY,
  });
  const { client, close } = net.client();
  let rogue: RogueNode | undefined;
  try {
    // debug: the p2p layer logs each rejected gossip message with its reason at debug level
    const validator = await net.startNode("validator", 0, { logLevel: "debug" });
    await startPeers(net, honest, adversaries);
    const genesis = net.deployment.params.genesis;
    const until = Date.now() + 200_000;
    for (;;) {
      assert.ok(Date.now() < until, `${name}: round ${LAST} not finalized in time`);
      await sleepMs(1000);
      for (const n of net.nodes.values())
        assert.equal(n.child.exitCode, null, `${n.name} exited early; see ${n.logFile}`);
      const round = Math.floor(((await chainNow(client)) - genesis) / ROUND);
      // An unregistered outsider joins the topic in round 2 and publishes announcements for it.
      if (adversaries.length > 0 && !rogue && round >= 2) {
        rogue = await RogueNode.start(RUN.runId);
        await rogue.connect(
          JSON.parse(
            (await import("node:fs")).readFileSync(join(net.nodeDir("validator-0"), "multiaddrs.json"), "utf8"),
          ),
        );
        await rogue.publishUpdates(round, 10);
      }
      const last = await client.lastFinalizedRound();
      const scored = logLines(validator, "round scored").some((l) => (l.round as number) >= LAST);
      if (last !== null && last >= LAST && scored) break;
    }
    const metrics = await scrapeMetrics(validator);
    const events = await roundEvents(client, net.deployment.block);
    const registry = (await client.peers()).map((a) => a.toLowerCase());
    const peers = Array.from({ length: honest + adversaries.length }, (_, i) => nodeAddress(net, "peer", i));
    const hashes = new Map<string, Map<number, string>>();
    for (let i = 0; i < honest; i++) {
      const m = new Map<number, string>();
      for (const l of logLines(net.nodes.get(`peer-${i}`)!, "outer step applied"))
        m.set(l.round as number, l.hash as string);
      hashes.set(peers[i], m);
    }
    const validatorLog = logLines(validator, "update scored");
    const debugLog = logLines(validator, "gossip not accepted");
    close();
    await rogue?.stop();
    await net.stop();
    const final = await committedHeldOutLoss(net.nodeDir("validator-0"), DATASET, EVAL);
    return {
      dir,
      events,
      metrics,
      validatorLog,
      debugLog,
      hashes,
      peers,
      registry,
      adversaries: peers.slice(honest),
      rogue: rogue?.address,
      final,
      seconds: (Date.now() - t0) / 1000,
    };
  } catch (err) {
    close();
    await rogue?.stop().catch(() => {});
    await net.stop();
    throw err;
  }
}

function rewardStrings(r: RunResult): { total: string; adversaries: string } {
  const { total, of } = rewardTotals(r.events, r.adversaries);
  return { total: total.toString(), adversaries: of.toString() };
}

describe("adversaries: 3 honest + 2 rotating adversaries + an outsider, against an all-honest baseline", {
  timeout: 600_000,
}, () => {
  let adv: RunResult;
  let base: RunResult;

  before(async () => {
    adv = await runNetwork("adv", ADVERSARIES);
    base = await runNetwork("honest", []);
    console.log(
      JSON.stringify({
        adversarial: { seconds: adv.seconds, ...adv.final },
        honest: { seconds: base.seconds, ...base.final },
        lossRatio: adv.final.loss / base.final.loss,
        rewards: rewardStrings(adv),
      }),
    );
  });

  after(() => {
    for (const r of [adv, base])
      if (r && !process.env.COTRAIN_KEEP_E2E) rmSync(r.dir, { recursive: true, force: true });
  });

  it("every round 0..LAST is finalized with exactly one submission by the validator", () => {
    for (const r of [adv, base]) {
      for (let round = 0; round <= LAST; round++) {
        assert.ok(r.events.finalized.has(round), `round ${round} not finalized`);
        assert.equal(r.events.submissions.get(round)?.size, 1, `round ${round} submissions`);
      }
    }
  });

  it("honest peers' model hashes equal the chain's after every round", () => {
    for (const [peer, byRound] of adv.hashes) {
      for (let round = 0; round <= LAST; round++) {
        assert.equal(byRound.get(round), adv.events.finalized.get(round), `honest ${peer} round ${round}`);
      }
    }
  });

  it("held-out loss (fixed sample) ends within 2 % of the all-honest run", () => {
    assert.equal(adv.final.round, base.final.round, "both runs evaluated at the same round");
    const rel = Math.abs(adv.final.loss - base.final.loss) / base.final.loss;
    assert.ok(rel <= 0.02, `adversarial ${adv.final.loss} vs honest ${base.final.loss}: ${(rel * 100).toFixed(2)} %`);
  });

  it("adversaries earn < 5 % of the peer rewards", () => {
    const { total, of: bad } = rewardTotals(adv.events, adv.adversaries);
    assert.ok(total > 0n, "some rewards were paid");
    assert.ok(bad * 100n < total * 5n, `adversaries got ${bad} of ${total}`);
  });

  it("every misbehaviour carries its reason in the round's ScoresSubmitted components", () => {
    const seen = new Set<string>();
    for (const [a, setting] of ADVERSARIES.entries()) {
      const index = adv.registry.indexOf(adv.adversaries[a]);
      const modes = setting.split(",");
      for (let round = 0; round <= LAST; round++) {
        const mode = modes[round % modes.length];
        const rows = [...(adv.events.submissions.get(round)?.values() ?? [])][0];
        assert.ok(rows, `no submission for round ${round}`);
        const c = decodeChainComponents(rows[index] ?? []);
        // a flooding adversary is graylisted afterwards: its later announcements never arrive by gossip,
        // so they are missing, or late when the validator's catch-up sync at gather time finds them
        const allowed = [
          ...EXPECTED[mode],
          ...(modes.slice(0, round % modes.length).includes("flood") ? ["missing", "late"] : []),
        ];
        if (mode === "noise" && c.reason === "ok") {
          // Noise of an honest norm moves the loss by ±~0.3 % at nano scale (a random direction among
          // ~5k kept values), so now and then it lowers it by a hair and is scored "ok". What must
          // hold then: it gained less than half of what the weakest honest update gained that round
          // (so its rating, and the gather set, keep it out — see the reward test above).
          const honest = adv.registry
            .map((addr, i) => (adv.adversaries.includes(addr) ? null : decodeChainComponents(rows[i] ?? [])))
            .filter((h): h is NonNullable<typeof h> => h !== null && h.reason === "ok" && h.heldOutGain !== null);
          const weakest = Math.min(...honest.map((h) => h.heldOutGain!));
          assert.ok(
            honest.length > 0 && c.heldOutGain! < weakest / 2,
            `noise gained ${c.heldOutGain}, weakest honest ${weakest}`,
          );
          seen.add(mode);
          continue;
        }
        assert.ok(
          allowed.includes(c.reason),
          `adversary ${a} round ${round} (${mode}): reason ${c.reason}, want ${allowed.join("|")}`,
        );
        seen.add(mode);
      }
    }
    assert.deepEqual([...seen].sort(), [...ADVERSARY_MODES].sort(), "every mode exercised");
  });

  it("the validator's metrics and logs carry the same reasons", () => {
    const m = adv.metrics;
    for (const reason of ["invalid:decode_failed", "invalid:norm_too_large", "copy", "out_of_sync", "no_gain"]) {
      assert.ok(metricSum(m, "cotrain_score_outcomes_total", { reason }) > 0, `score outcome ${reason}`);
      assert.ok(
        adv.validatorLog.some((l) => l.reason === reason && adv.adversaries.includes(l.peer as string)),
        `log line for ${reason}`,
      );
    }
    assert.ok(
      metricSum(m, "cotrain_p2p_app_penalties_total", { reason: "bad_payload" }) > 0,
      "undecodable payloads penalized",
    );
    const gossip = (reason: string) =>
      metricSum(m, "cotrain_p2p_gossip_validation_total", { topic: "updates", result: "reject", reason });
    assert.ok(gossip("EQUIVOCATION") > 0, "flood rejected as EQUIVOCATION");
    assert.ok(gossip("NOT_REGISTERED") > 0, "outsider rejected as NOT_REGISTERED");
    for (const reason of ["EQUIVOCATION", "NOT_REGISTERED"])
      assert.ok(
        adv.debugLog.some((l) => l.reason === reason),
        `debug log for ${reason}`,
      );
    // honest peers were never flagged
    for (const l of adv.validatorLog)
      if (!adv.adversaries.includes(l.peer as string))
        assert.ok(l.reason === "ok" || l.reason === "no_gain", `honest ${l.peer}: ${l.reason}`);
  });
});
