// Hostile-network benchmark: the resource attacks of issue 16 against real libp2p nodes on 127.0.0.1,
// one JSON line per attack with what the victim spent. Figures in docs/security.md ("Resource bounds").
// npm run bench:hostile -- --attack all        (or: sync-stall, blob-oom, oversized, status-flood,
//                                                unknown-sender, sync-response)
import "../node/polyfill.ts";
import { type ChildProcess, fork } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { peerIdFromString } from "@libp2p/peer-id";
import { Registry } from "prom-client";
import { type Identity, randomIdentity } from "../node/identity/index.ts";
import { modelPresets, paramSpecs } from "../node/model/index.ts";
import { type BlobStore, type P2PNode, createP2PNode } from "../node/p2p/index.ts";
import { maxUpdateBytes } from "../node/sparseloco/index.ts";
import {
  type Attacker,
  openSlowBlobReads,
  serveHugeSync,
  silenceSync,
  startAttacker,
} from "../tests/fixtures/hostile-peers.ts";

const { values } = parseArgs({
  options: {
    attack: { type: "string", default: "all" },
    // blob-oom: blob size, attacker identities, streams per attacker, whether the victim registers them
    "blob-mib": { type: "string", default: "40" },
    attackers: { type: "string", default: "4" },
    streams: { type: "string", default: "16" },
    registered: { type: "string", default: "false" },
    "oversize-mib": { type: "string", default: "200" },
    heartbeats: { type: "string", default: "300" },
    "heartbeat-kib": { type: "string", default: "200" },
    messages: { type: "string", default: "2000" },
    "sync-messages": { type: "string", default: "4096" },
    // simulated eth_call latency of a lookup of an unknown address (the victim's RPC endpoint)
    "lookup-ms": { type: "string", default: "20" },
  },
});
const RUN = "hostile";
const MiB = 1024 * 1024;
const sha = (b: Uint8Array) => new Uint8Array(createHash("sha256").update(b).digest());
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (b: number) => Number((b / MiB).toFixed(1));
// what context.ts passes for a real run: the nano preset's largest valid update
const NANO_MAX_UPDATE = maxUpdateBytes(paramSpecs(modelPresets.nano));

class MemoryStore implements BlobStore {
  readonly map = new Map<string, Uint8Array>();
  async get(h: string) {
    return this.map.get(h);
  }
  async put(h: string, d: Uint8Array) {
    this.map.set(h, d);
  }
}

const registries = new WeakMap<P2PNode, Registry>();

/** A victim's gossip verdicts other than accept, as {"reject:RATE_LIMITED": n, …} (empty on old versions). */
async function verdicts(node: P2PNode): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of await samples(node, "cotrain_p2p_gossip_validation_total"))
    if (v.labels.result !== "accept") out[`${v.labels.result}:${v.labels.reason}`] = v.value;
  return out;
}

/** Non-zero samples of a counter as {"label=value,…": n}. */
async function counters(node: P2PNode, name: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of await samples(node, name)) if (v.value !== 0) out[Object.values(v.labels).join(":")] = v.value;
  return out;
}

async function samples(node: P2PNode, name: string) {
  return (await registries.get(node)?.getSingleMetric(name)?.get())?.values ?? [];
}

async function victimNode(
  registered: Set<string>,
  extra: Record<string, unknown> = {},
  store: BlobStore = new MemoryStore(),
  identity: Identity = randomIdentity(),
  lookups = { n: 0 },
): Promise<P2PNode> {
  const registry = new Registry();
  const node = await createP2PNode(
    {
      runId: RUN,
      listen: ["/ip4/127.0.0.1/tcp/0"],
      heartbeatIntervalMs: 100,
      maxUpdateBytes: NANO_MAX_UPDATE,
      allowPrivateAddresses: true,
      ...extra,
    },
    {
      identity,
      isRegistered: async (a) => {
        lookups.n++;
        // the roles' ParticipantDirectory answers a known participant from memory, an unknown one by RPC
        if (registered.has(a.toLowerCase())) return true;
        await sleep(Number(values["lookup-ms"]));
        return false;
      },
      currentRound: () => 1,
      blobStore: store,
      registry,
    },
  );
  registries.set(node, registry);
  return node;
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(25);
  }
  return true;
}

async function connectMesh(a: P2PNode, b: P2PNode): Promise<void> {
  await a.dial(b.multiaddrs[0]);
  const ok = await waitFor(
    () =>
      a.getMeshPeers("status").includes(b.peerId.toString()) && b.getMeshPeers("status").includes(a.peerId.toString()),
    10_000,
  );
  if (!ok) throw new Error("mesh did not form");
}

/** 3 unregistered peers that accept sync streams and never answer; then 3 registered ones. */
async function syncStall() {
  const out: Record<string, unknown> = { attack: "sync-stall" };
  for (const kind of ["outsiders", "registered_sybils"] as const) {
    const attackers = await Promise.all([0, 1, 2].map(() => startAttacker(RUN)));
    for (const a of attackers) await silenceSync(a.node);
    const registered = new Set(kind === "registered_sybils" ? attackers.map((a) => a.address) : []);
    const victim = await victimNode(registered);
    for (const a of attackers) await a.node.dial(victim.multiaddrs[0]);
    await sleep(300);
    const t = performance.now();
    await victim.syncAnnouncements(0, 1);
    out[`${kind}_stall_s`] = Number(((performance.now() - t) / 1000).toFixed(2));
    await victim.stop();
    for (const a of attackers) await a.stop();
  }
  return out;
}

/** Attackers open many blob streams on a large blob and read nothing; victim RSS in its own process. */
async function blobOom() {
  const blobBytes = Number(values["blob-mib"]) * MiB;
  const n = Number(values.attackers);
  const perAttacker = Number(values.streams);
  const attackers: Attacker[] = [];
  for (let i = 0; i < n; i++) attackers.push(await startAttacker(RUN));
  const registered = values.registered === "true" ? attackers.map((a) => a.address) : [];
  const child: ChildProcess = fork(new URL("./hostile-victim.ts", import.meta.url).pathname, {
    execArgv: ["--import", "tsx", "--expose-gc"],
    env: { ...process.env, VICTIM_BLOB_BYTES: String(blobBytes), VICTIM_REGISTERED: JSON.stringify(registered) },
  });
  const next = () => new Promise<Record<string, number | string>>((r) => child.once("message", r as never));
  const ready = await next();
  const victimId = peerIdFromString(String(ready.multiaddr).split("/p2p/")[1]);
  for (const a of attackers) await a.node.dial(String(ready.multiaddr));
  await sleep(300);
  child.send("reset-peak");
  const base = Number((await next()).rss);
  const t = performance.now();
  const reads = await Promise.all(
    attackers.map((a) => openSlowBlobReads(a.node, victimId, Buffer.from(String(ready.hash), "hex"), perAttacker)),
  );
  await sleep(3000); // the victim holds whatever it holds while the readers stall
  child.send("report");
  const rep = await next();
  const opened = reads.reduce((s, r) => s + r.opened, 0);
  const statuses: Record<string, number> = {};
  for (const r of reads) for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  for (const r of reads) r.close();
  child.send("stop");
  await new Promise((r) => child.once("exit", r));
  for (const a of attackers) await a.stop();
  return {
    attack: "blob-oom",
    blob_mib: mib(blobBytes),
    attackers: n,
    attackers_registered: values.registered === "true",
    streams_requested: n * perAttacker,
    streams_served: opened,
    refused: reads.reduce((s, r) => s + r.refused, 0),
    statuses,
    victim_rss_before_mib: mib(base),
    victim_rss_peak_mib: mib(Number(rep.peak)),
    victim_rss_growth_mib: mib(Number(rep.peak) - base),
    seconds: Number(((performance.now() - t) / 1000).toFixed(2)),
  };
}

/** A registered peer announces (and serves) a payload far above the model's largest valid update. */
async function oversized() {
  const bytes = Number(values["oversize-mib"]) * MiB;
  const payload = randomBytes(bytes);
  const aStore = new MemoryStore();
  await aStore.put(hex(sha(payload)), payload);
  const attacker = await startAttacker(RUN, { blobStore: aStore });
  const vStore = new MemoryStore();
  const victim = await victimNode(new Set([attacker.address]), {}, vStore);
  let delivered = 0;
  let fetched = 0;
  let fetchError = "";
  const t = performance.now();
  let done = false;
  victim.onAnnouncement((ann, from) => {
    delivered++;
    // what node/roles/inbox.ts does with an accepted announcement
    victim
      .fetchPayload(ann, from)
      .then((b) => {
        fetched = b.byteLength;
      })
      .catch((err) => {
        fetchError = (err as Error).message;
      })
      .finally(() => {
        done = true;
      });
  });
  await connectMesh(attacker.node, victim);
  const ann = {
    round: 1,
    baseModelHash: sha(Buffer.from("theta")),
    payloadHash: sha(payload),
    payloadBytes: bytes,
    dataDigest: sha(Buffer.from("d")),
  };
  await attacker.node.publishUpdate(ann);
  // until the payload was fetched, or the announcement was refused (the attacker's score fell)
  await waitFor(() => done || victim.getScore(attacker.node.peerId) < 0, 30_000);
  const gossipS = (performance.now() - t) / 1000;
  // the same announcement handed straight to fetchPayload (e.g. by a buggy caller): refused before any byte
  let directError = "";
  let directBytes = 0;
  vStore.map.clear();
  try {
    directBytes = (
      await victim.fetchPayload(
        { ...ann, runId: RUN, multiaddrs: [] },
        { peerId: attacker.node.peerId, address: attacker.address },
      )
    ).byteLength;
  } catch (err) {
    directError = (err as Error).message;
  }
  const out = {
    attack: "oversized",
    payload_mib: mib(bytes),
    max_update_bytes: NANO_MAX_UPDATE,
    delivered,
    fetched_mib: mib(fetched),
    fetch_error: fetchError || undefined,
    stored_mib: mib([...vStore.map.values()].reduce((s, b) => s + b.byteLength, 0) || fetched),
    seconds: Number(gossipS.toFixed(2)),
    direct_fetch_mib: mib(directBytes),
    direct_fetch_error: directError || undefined,
    verdicts: await verdicts(victim),
  };
  await victim.stop();
  await attacker.stop();
  return out;
}

/** F — A — B: F floods big heartbeats, then a second flooder floods small valid ones. */
async function statusFlood() {
  const count = Number(values.heartbeats);
  const big = "x".repeat(Number(values["heartbeat-kib"]) * 1024);
  const out: Record<string, unknown> = { attack: "status-flood", heartbeats: count };
  for (const kind of ["big", "small"] as const) {
    const F = await startAttacker(RUN);
    const ids = [randomIdentity(), randomIdentity()];
    const registered = new Set([F.address, ...ids.map((i) => i.address.toLowerCase())]);
    const A = await victimNode(registered, {}, new MemoryStore(), ids[0]);
    const B = await victimNode(registered, {}, new MemoryStore(), ids[1]);
    let atA = 0;
    let atB = 0;
    A.onStatus(() => atA++);
    B.onStatus(() => atB++);
    await connectMesh(A, B);
    await connectMesh(F.node, A);
    const score0 = A.getScore(F.node.peerId);
    const t = performance.now();
    for (let i = 0; i < count; i++) {
      await F.node
        .publishStatus({
          role: "peer",
          round: 1,
          modelHash: new Uint8Array(0),
          backend: "cpu",
          tokensPerS: 1,
          timestamp: Date.now(),
          version: kind === "big" ? big : "0.1.0",
        })
        .catch(() => {});
    }
    await sleep(2000);
    out[`${kind}_delivered_at_A`] = atA;
    out[`${kind}_relayed_to_B`] = atB;
    out[`${kind}_flooder_score_at_A_before`] = Number(score0.toFixed(1));
    out[`${kind}_flooder_score_at_A_after`] = Number(A.getScore(F.node.peerId).toFixed(1));
    out[`${kind}_seconds`] = Number(((performance.now() - t) / 1000).toFixed(2));
    out[`${kind}_verdicts_at_A`] = await verdicts(A);
    await A.stop();
    await B.stop();
    await F.stop();
  }
  return out;
}

/** An unregistered key publishes many announcements: how many registry lookups does the victim make? */
async function unknownSender() {
  const n = Number(values.messages);
  const rogue = await startAttacker(RUN);
  const lookups = { n: 0 };
  const victim = await victimNode(new Set(), {}, new MemoryStore(), randomIdentity(), lookups);
  await connectMesh(rogue.node, victim);
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    const p = randomBytes(64);
    await rogue.node.publishUpdate({
      round: 1,
      baseModelHash: sha(p),
      payloadHash: sha(p),
      payloadBytes: p.byteLength,
      dataDigest: sha(p),
      inlinePayload: new Uint8Array(p),
    });
  }
  await sleep(2000);
  const out = {
    attack: "unknown-sender",
    messages: n,
    registry_lookups: lookups.n,
    seconds: Number(((performance.now() - t) / 1000).toFixed(2)),
  };
  await victim.stop();
  await rogue.stop();
  return out;
}

/**
 * One (registered) responder answers a sync request with thousands of maximum-size envelopes on the
 * updates topic: with random signatures, then validly signed by itself (garbage announcements).
 */
async function syncResponse() {
  const count = Number(values["sync-messages"]);
  const bytesEach = 272 * 1024; // just under maxGossipBytes + 1 KiB, the old per-message cap
  const out: Record<string, unknown> = {
    attack: "sync-response",
    offered_messages: count,
    offered_mib: mib(count * bytesEach),
  };
  for (const kind of ["bad_signatures", "signed"] as const) {
    const responder = await startAttacker(RUN);
    const stats = await serveHugeSync(responder.node, count, bytesEach, {
      signer: kind === "signed" ? responder.identity : undefined,
      topic: `/cotrain/${RUN}/updates/1`,
    });
    const victim = await victimNode(new Set([responder.address]));
    await responder.node.dial(victim.multiaddrs[0]);
    await sleep(300);
    global.gc?.();
    const before = process.memoryUsage();
    let peakAb = before.arrayBuffers;
    let peakRss = before.rss;
    const sampler = setInterval(() => {
      const mu = process.memoryUsage();
      peakAb = Math.max(peakAb, mu.arrayBuffers);
      peakRss = Math.max(peakRss, mu.rss);
    }, 20);
    const t = performance.now();
    await victim.syncAnnouncements(0, 1, [responder.node.peerId]);
    const seconds = (performance.now() - t) / 1000;
    await sleep(300);
    clearInterval(sampler);
    Object.assign(out, {
      [`${kind}_responder_sent_mib`]: mib(stats.sent),
      [`${kind}_responder_sent_messages`]: stats.messages,
      // one process holds both ends; the responder re-sends one buffer, so the growth is the victim's
      [`${kind}_victim_array_buffers_growth_mib`]: mib(peakAb - before.arrayBuffers),
      [`${kind}_process_rss_growth_mib`]: mib(peakRss - before.rss),
      [`${kind}_responder_score_at_victim`]: Number(victim.getScore(responder.node.peerId).toFixed(1)),
      [`${kind}_seconds`]: Number(seconds.toFixed(2)),
      [`${kind}_sync_requests`]: await counters(victim, "cotrain_p2p_sync_requests_total"),
      [`${kind}_refusals`]: await counters(victim, "cotrain_p2p_refusals_total"),
    });
    await victim.stop();
    await responder.stop();
  }
  return out;
}

const attacks: Record<string, () => Promise<Record<string, unknown>>> = {
  "sync-stall": syncStall,
  "blob-oom": blobOom,
  oversized,
  "status-flood": statusFlood,
  "unknown-sender": unknownSender,
  "sync-response": syncResponse,
};

async function main() {
  const names = values.attack === "all" ? Object.keys(attacks) : String(values.attack).split(",");
  for (const name of names) {
    const fn = attacks[name];
    if (!fn) throw new Error(`unknown attack ${name}; one of ${Object.keys(attacks).join(", ")}`);
    console.log(JSON.stringify({ bench: "hostile", ...(await fn()) }));
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
