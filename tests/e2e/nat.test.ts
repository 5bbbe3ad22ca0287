import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { randomIdentity } from "../../node/identity/index.ts";
import { defaultRelayServerLimits } from "../../node/p2p/index.ts";
import { type Topology, buildNatTopology, namespacesWithTag } from "../fixtures/netns.ts";

/**
 * NAT traversal on real network namespaces (root, iproute2, nftables): a relay in a "public" namespace
 * and two home nodes, each behind its own masquerading router. The homes learn no public address of
 * their own (AutoNAT confirms none), so what they would register on chain is only their relayed
 * /p2p-circuit address; one dials the other at that address, and both exchange a signed update
 * announcement and its payload (a blob above the inline limit) over the connection they got. Whether
 * DCUtR upgraded the relayed connection to a direct one is printed as a diagnostic.
 */
const NODE = fileURLToPath(new URL("../../node_modules/node/bin/node", import.meta.url));
const FIXTURE = fileURLToPath(new URL("../fixtures/nat-node.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TAG = String(process.pid % 1_000_000);

type Event = Record<string, unknown> & { event: string };

class NatNode {
  readonly events: Event[] = [];
  private readonly waiters = new Set<() => void>();
  private buf = "";
  stderr = "";
  readonly proc: ChildProcessWithoutNullStreams;
  exited = false;

  constructor(ns: string, config: Record<string, unknown>) {
    this.proc = spawn("ip", ["netns", "exec", ns, NODE, "--import", "tsx", FIXTURE, JSON.stringify(config)], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: "" },
    });
    this.proc.stdout.on("data", (d: Buffer) => {
      this.buf += d.toString();
      let i = this.buf.indexOf("\n");
      while (i >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        try {
          this.events.push(JSON.parse(line) as Event);
        } catch {
          this.stderr += `${line}\n`;
        }
        i = this.buf.indexOf("\n");
      }
      for (const w of this.waiters) w();
    });
    this.proc.stderr.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.proc.on("exit", () => {
      this.exited = true;
      for (const w of this.waiters) w();
    });
  }

  /** The first event (after `from`) matching `pred`, within `timeoutMs`. */
  wait(pred: (e: Event) => boolean, what: string, timeoutMs = 30_000, from = 0): Promise<Event> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.events.slice(from).find(pred);
        if (hit) return done(() => resolve(hit));
        if (this.exited) return done(() => reject(new Error(`node exited waiting for ${what}: ${this.stderr}`)));
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`timed out waiting for ${what}; stderr: ${this.stderr.slice(-1500)}`))),
        timeoutMs,
      );
      const done = (f: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        f();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Sends a command; resolves with its reply event (or rejects with the node's error). */
  async ask(cmd: Record<string, unknown>, reply: string, timeoutMs = 30_000): Promise<Event> {
    const from = this.events.length;
    this.proc.stdin.write(`${JSON.stringify(cmd)}\n`);
    const e = await this.wait((e) => e.event === reply || e.event === "error", reply, timeoutMs, from);
    if (e.event === "error") throw new Error(`${String(cmd.cmd)} failed: ${String(e.error)}`);
    return e;
  }

  /** Stops the process by its PID: SIGTERM, SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (this.exited || this.proc.pid === undefined) return;
    const pid = this.proc.pid;
    const gone = new Promise<void>((r) => this.proc.once("exit", () => r()));
    process.kill(pid, "SIGTERM");
    const timer = setTimeout(() => {
      if (!this.exited) process.kill(pid, "SIGKILL");
    }, 5_000);
    await gone;
    clearTimeout(timer);
  }
}

describe("NAT: two homes behind masquerading NAT reach each other through a circuit relay", { timeout: 90_000 }, () => {
  let topo: Topology | undefined;
  const nodes: NatNode[] = [];
  const ids = [randomIdentity(), randomIdentity(), randomIdentity(), randomIdentity()];
  const registered = ids.map((i) => i.address);
  let relay: NatNode;
  let homes: NatNode[];

  before(() => {
    topo = buildNatTopology(2, TAG);
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    topo?.teardown();
    assert.deepEqual(namespacesWithTag(TAG), [], "every namespace the test created is removed");
  });

  it("relayed addresses only go on chain; gossip and a blob cross both NATs; the relay counts its reservations", async () => {
    assert.ok(topo);
    relay = new NatNode(topo.pub, {
      key: ids[0].wallet.privateKey,
      registered,
      // a fixed port is safe: the namespace is this run's own; the operator announces its public address
      listen: [`/ip4/${topo.pubAddr(1)}/tcp/4001`],
      announce: [`/ip4/${topo.pubAddr(1)}/tcp/4001`],
      bootstrap: [],
      // the cap is what the test checks below: two homes fit, a third stranger is refused
      relay: { ...defaultRelayServerLimits, maxReservations: 2 },
      allowPrivateAddresses: false,
      // the relay never holds a payload, so a home can only get it from the other home
      fetch: false,
    });
    nodes.push(relay);
    const ready = await relay.wait((e) => e.event === "ready", "relay ready");
    const relayAddr = (ready.multiaddrs as string[]).find((a) => a.startsWith(`/ip4/${topo?.pubAddr(1)}/`));
    assert.ok(relayAddr, `relay listens on the public address: ${String(ready.multiaddrs)}`);

    homes = topo.homes.map((h, i) => {
      const n = new NatNode(h.ns, {
        key: ids[i + 1].wallet.privateKey,
        registered,
        listen: ["/ip4/0.0.0.0/tcp/0"],
        announce: [],
        bootstrap: [relayAddr],
        relay: null,
        allowPrivateAddresses: false,
        fetch: true,
      });
      nodes.push(n);
      return n;
    });
    await Promise.all(homes.map((h) => h.wait((e) => e.event === "ready", "home ready")));

    // what each home would register on chain: its relayed address only, never its LAN address
    const advertised = await Promise.all(homes.map((h) => h.ask({ cmd: "advertised", waitMs: 30_000 }, "advertised")));
    for (const [i, a] of advertised.entries()) {
      const addrs = a.addrs as string[];
      const all = a.all as string[];
      assert.ok(
        all.some((x) => x.includes(`/ip4/${topo?.homes[i].addr}/`)),
        `home ${i + 1} listens on its LAN`,
      );
      assert.ok(addrs.length > 0, `home ${i + 1} has an address to publish: ${all}`);
      for (const x of addrs) {
        assert.ok(x.includes("/p2p-circuit/"), `home ${i + 1} publishes only relayed addresses: ${x}`);
        assert.ok(x.startsWith(`/ip4/${topo?.pubAddr(1)}/`), `through the public relay: ${x}`);
      }
    }

    // the relay sees each home at its router's WAN address: masquerading NAT is in the path
    const seen = (await relay.ask({ cmd: "connections" }, "connections")).list as { addr: string }[];
    for (const h of topo.homes) {
      assert.ok(
        seen.some((c) => c.addr.startsWith(`/ip4/${h.wan}/`)),
        `relay sees ${h.wan}: ${JSON.stringify(seen)}`,
      );
      assert.ok(!seen.some((c) => c.addr.startsWith(`/ip4/${h.addr}/`)), "never a home's LAN address");
    }

    // home 1 dials home 2 at its published (relayed) address, as chain discovery does
    await homes[0].ask({ cmd: "dial", addr: (advertised[1].addrs as string[])[0] }, "dialed");
    const h2Id = String((await homes[1].wait((e) => e.event === "ready", "ready")).peerId);
    const h1Id = String((await homes[0].wait((e) => e.event === "ready", "ready")).peerId);

    // both directions: announcement over gossip, payload (300 kB > 256 KiB inline) fetched from the author,
    // the only node that has it: the bytes cross the relayed connection between the two homes
    for (const [author, reader, authorIdx] of [
      [homes[1], homes[0], 2],
      [homes[0], homes[1], 1],
    ] as const) {
      const from = reader.events.length;
      // the gossip mesh needs a heartbeat or two after the connection; publish until the reader has it
      let published: Event | undefined;
      const got = reader.wait(
        (e) => e.event === "update" && e.from === ids[authorIdx].address && e.hash === published?.hash,
        `update from home ${authorIdx}`,
        40_000,
        from,
      );
      for (let tries = 0; tries < 20; tries++) {
        published = await author.ask({ cmd: "publish", bytes: 300_000, round: tries + 1 }, "published");
        const arrived = await Promise.race([
          got.then(() => true),
          new Promise((r) => setTimeout(() => r(false), 1500)),
        ]);
        if (arrived) break;
      }
      const update = await got;
      assert.equal(update.bytes, 300_000);
    }

    // which path the homes use to each other: relayed (limited) or direct after a DCUtR hole punch
    const conns = (await homes[0].ask({ cmd: "connections" }, "connections")).list as {
      peer: string;
      addr: string;
      limited: boolean;
    }[];
    const toH2 = conns.filter((c) => c.peer === h2Id);
    assert.ok(toH2.length > 0, "home 1 holds a connection to home 2");
    const path = toH2.some((c) => !c.limited) ? "direct (DCUtR hole punch)" : "relayed (circuit relay v2)";
    console.log(`# home 1 ↔ home 2: ${path}; connections: ${JSON.stringify(toH2)}`);
    assert.ok(h1Id !== h2Id);

    // the relay's reservations are bounded and counted: a third node asking for one is refused
    const gauge = async () =>
      Number(
        /^cotrain_p2p_relay_reservations (\d+)/m.exec(
          String((await relay.ask({ cmd: "metrics" }, "metrics")).text),
        )?.[1],
      );
    assert.equal(await gauge(), 2, "the relay holds one reservation per home");
    const stranger = new NatNode(topo.pub, {
      key: ids[3].wallet.privateKey,
      registered,
      listen: [`/ip4/${topo.pubAddr(2)}/tcp/0`],
      announce: [],
      bootstrap: [relayAddr],
      relay: null,
      allowPrivateAddresses: false,
      fetch: false,
    });
    nodes.push(stranger);
    await stranger.wait((e) => e.event === "ready", "stranger ready");
    const s = await stranger.ask({ cmd: "advertised", waitMs: 5_000 }, "advertised", 20_000);
    assert.ok(
      !(s.all as string[]).some((a) => a.includes("/p2p-circuit")),
      `no reservation beyond the cap: ${String(s.all)}`,
    );
    assert.equal(await gauge(), 2, "still two reservations");
  });
});
