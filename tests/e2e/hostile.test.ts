import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { setPriority, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { LocalNetwork } from "../../node/testnet/network.ts";
import { readLog } from "../../node/testnet/processes.ts";
import {
  type RoundEvents,
  chainNow,
  metricSum,
  modelHashes,
  nodeAddress,
  roundEvents,
  rewardTotals,
  scrapeMetrics,
  sleepMs,
  startPeers,
} from "../fixtures/e2e-helpers.ts";

/**
 * Issue 16's hostile network, all at once on 127.0.0.1: 3 honest peers and 1 validator; 4 registered
 * sybils (ordinary peers with a publish hook: copies, replays, free-riding zero and noise updates,
 * equivocation floods, wrong bases); from round QUIET_ROUNDS on, an attacker process driving 20
 * unregistered libp2p identities against every honest node (oversized status heartbeats, announcements
 * declaring a 200 MiB payload, unknown-sender announcements, blob reads held open, catch-up sync
 * requests; its own sync handlers stall or flood whoever asks them). Pass: every round finalizes with
 * the validator's submission, the honest nodes agree on every hash, the sybils earn < 5 %, and no
 * honest process's peak RSS grows past 1.5x its peak over the quiet rounds. The figures are printed as
 * one JSON line (docs/security.md "Hostile network").
 */
const ROUND = 15;
const QUIET_ROUNDS = 2; // rounds 0..1 without the attacker: each process's quiet peak RSS
const LAST = 5;
const DATASET = join(tmpdir(), "cotrain-dataset-brown");
const RUN = {
  runId: "e2e-hostile",
  model: { preset: "nano" as const },
  train: { innerSteps: 6, batchSize: 8 },
  validator: { heldoutSamples: 8, ownSamples: 8 },
};
const DEPLOY = {
  roundSeconds: ROUND,
  submissionSeconds: 3,
  scoringSeconds: 15,
  genesisDelaySeconds: 10,
  gatherSize: 3,
};
const HONEST = 3;
const SYBILS = ["copy,zero", "zero,replay", "noise,copy", "flood,wrongbase"];
const ATTACKER = fileURLToPath(new URL("../fixtures/hostile-attacker.ts", import.meta.url));
const MiB = 1024 * 1024;

/** VmHWM (peak resident set) and VmRSS of a process, in bytes. */
function memory(pid: number): { peak: number; rss: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN) * 1024;
  return { peak: kb("VmHWM"), rss: kb("VmRSS") };
}

interface Result {
  events: RoundEvents;
  metrics: Record<string, string>;
  hashes: Map<string, Map<number, string>>;
  honest: string[];
  sybils: string[];
  rss: Record<string, { quietPeakMiB: number; peakMiB: number; ratio: number }>;
  attacker: Record<string, unknown>;
  seconds: number;
}

describe("hostile network: 3 honest peers, 1 validator, 4 sybils and 20 unregistered attackers at once", {
  timeout: 600_000,
}, () => {
  let r: Result;
  const dir = mkdtempSync(join(tmpdir(), "cotrain-e2e-hostile-"));

  before(async () => {
    const t0 = Date.now();
    const net = await LocalNetwork.start({
      dir,
      peers: HONEST + SYBILS.length,
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
    let attacker: ChildProcess | undefined;
    let attackerOut = "";
    try {
      await net.startNode("validator", 0, { logLevel: "debug" }); // debug: each refused gossip message with its reason
      await startPeers(net, HONEST, SYBILS);
      // One box stands in for many machines: the attackers' CPU is their own, so sybils and the attacker
      // run at the lowest priority and what the honest processes lose is what they spend on the attacks.
      for (let i = HONEST; i < HONEST + SYBILS.length; i++) setPriority(net.nodes.get(`peer-${i}`)!.child.pid!, 19);
      const watched = ["validator-0", ...Array.from({ length: HONEST }, (_, i) => `peer-${i}`)];
      const quietPeak = new Map<string, number>();
      const genesis = net.deployment.params.genesis;
      const until = Date.now() + 240_000;
      for (;;) {
        assert.ok(Date.now() < until, `round ${LAST} not finalized in time`);
        await sleepMs(1000);
        for (const n of net.nodes.values())
          assert.equal(n.child.exitCode, null, `${n.name} exited early; see ${n.logFile}`);
        const round = Math.floor(((await chainNow(client)) - genesis) / ROUND);
        if (!attacker && round >= QUIET_ROUNDS) {
          for (const name of watched) quietPeak.set(name, memory(net.nodes.get(name)!.child.pid!).peak);
          const targets = watched.map((name) =>
            JSON.parse(readFileSync(join(net.nodeDir(name), "multiaddrs.json"), "utf8")),
          );
          attacker = spawn(process.execPath, ["--import", "tsx", ATTACKER], {
            stdio: ["ignore", "pipe", "inherit"],
            env: {
              ...process.env,
              HOSTILE_ATTACKER: JSON.stringify({
                runId: RUN.runId,
                targets,
                identities: 20,
                genesis,
                roundSeconds: ROUND,
                oversizeBytes: 200 * MiB,
                heartbeatBytes: 200 * 1024,
              }),
            },
          });
          setPriority(attacker.pid!, 19);
          attacker.stdout!.on("data", (d) => {
            attackerOut += d;
          });
        }
        if (attacker) assert.equal(attacker.exitCode, null, "the attacker process exited early");
        const last = await client.lastFinalizedRound();
        if (last !== null && last >= LAST) break;
      }
      const rss: Result["rss"] = {};
      for (const name of watched) {
        const peak = memory(net.nodes.get(name)!.child.pid!).peak;
        const quiet = quietPeak.get(name)!;
        rss[name] = {
          quietPeakMiB: +(quiet / MiB).toFixed(1),
          peakMiB: +(peak / MiB).toFixed(1),
          ratio: +(peak / quiet).toFixed(3),
        };
      }
      const metrics: Record<string, string> = {};
      for (const name of watched) metrics[name] = await scrapeMetrics(net.nodes.get(name)!);
      if (process.env.COTRAIN_KEEP_E2E)
        for (const name of watched) writeFileSync(join(dir, `${name}.metrics`), metrics[name]);
      // stopped by its PID; it prints its figures on SIGTERM
      const exited = new Promise((ok) => attacker!.once("close", ok)); // "close": its stdout is read to the end
      process.kill(attacker!.pid!, "SIGTERM");
      const kill = setTimeout(() => attacker!.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(kill);
      const events = await roundEvents(client, net.deployment.block);
      const addr = (i: number) => nodeAddress(net, "peer", i);
      const hashes = new Map<string, Map<number, string>>();
      for (let i = 0; i < HONEST; i++) hashes.set(addr(i), modelHashes(readLog(net.nodes.get(`peer-${i}`)!)));
      close();
      await net.stop();
      const line = attackerOut.split("\n").find((l) => l.startsWith("{"));
      r = {
        events,
        metrics,
        hashes,
        honest: Array.from({ length: HONEST }, (_, i) => addr(i)),
        sybils: SYBILS.map((_, i) => addr(HONEST + i)),
        rss,
        attacker: line ? JSON.parse(line).attacker : {},
        seconds: (Date.now() - t0) / 1000,
      };
    } catch (err) {
      close();
      if (attacker && attacker.exitCode === null) attacker.kill("SIGKILL");
      await net.stop();
      throw err;
    }
  });

  after(() => {
    if (!process.env.COTRAIN_KEEP_E2E) rmSync(dir, { recursive: true, force: true });
  });

  it("prints the figures", () => {
    const { total, of: sybils } = rewardTotals(r.events, r.sybils);
    const v = r.metrics["validator-0"];
    const rejected = (reason: string, topic = "updates") =>
      metricSum(v, "cotrain_p2p_gossip_validation_total", { topic, result: "reject", reason });
    console.log(
      JSON.stringify({
        hostile: {
          seconds: r.seconds,
          rounds_finalized: r.events.finalized.size,
          sybil_reward_share: Number(sybils) / Number(total),
          rss: r.rss,
          validator_rejects: {
            not_registered: rejected("NOT_REGISTERED"),
            payload_too_large: rejected("PAYLOAD_TOO_LARGE"),
            status_too_large: rejected("TOO_LARGE", "status"),
            equivocation: rejected("EQUIVOCATION"),
          },
          validator_refusals: metricSum(v, "cotrain_p2p_refusals_total"),
          attacker: r.attacker,
        },
      }),
    );
  });

  it("every round 0..LAST finalizes with the validator's submission", () => {
    for (let round = 0; round <= LAST; round++) {
      assert.ok(r.events.finalized.has(round), `round ${round} not finalized`);
      assert.equal(r.events.submissions.get(round)?.size, 1, `round ${round}: submissions`);
    }
  });

  it("the honest peers agree with the chain on every hash from the first round they hold", () => {
    for (const [peer, held] of r.hashes) {
      const first = Math.min(...held.keys());
      assert.ok(first <= 1, `${peer} first holds round ${first}`);
      for (let round = first; round <= LAST; round++)
        assert.equal(held.get(round), r.events.finalized.get(round), `${peer} round ${round}`);
    }
  });

  it("the sybils earn < 5 % of the rewards", () => {
    const { total, of: sybils } = rewardTotals(r.events, r.sybils);
    assert.ok(total > 0n, "rewards were paid");
    assert.ok(sybils * 100n < total * 5n, `sybils got ${sybils} of ${total}`);
  });

  it("no honest process's peak RSS grows past 1.5x its quiet peak under attack", () => {
    for (const [name, m] of Object.entries(r.rss)) assert.ok(m.ratio < 1.5, `${name}: ${JSON.stringify(m)}`);
  });

  it("the attacks reached the honest nodes and were refused by their bounds", () => {
    const a = r.attacker as { statusSent?: number; syncAsked?: number };
    assert.ok((a.statusSent ?? 0) >= 20 && (a.syncAsked ?? 0) >= 20, `attacker: ${JSON.stringify(a)}`);
    for (const [name, text] of Object.entries(r.metrics)) {
      const rejects = metricSum(text, "cotrain_p2p_gossip_validation_total", { result: "reject" });
      const refusals = metricSum(text, "cotrain_p2p_refusals_total");
      assert.ok(rejects + refusals > 0, `${name}: nothing rejected or refused`);
    }
    const v = r.metrics["validator-0"];
    assert.ok(
      metricSum(v, "cotrain_p2p_refusals_total", { resource: "blob_serve" }) +
        metricSum(v, "cotrain_p2p_refusals_total", { resource: "sync_serve" }) >
        0,
      "blob or sync requests of unregistered attackers refused",
    );
  });
});
