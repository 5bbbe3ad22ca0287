import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Registry } from "prom-client";
import { randomIdentity } from "../../node/identity/index.ts";
import {
  RegistrationCache,
  StreamLimiter,
  checkRegisteredAddr,
  createP2PMetrics,
  dialableAddrs,
} from "../../node/p2p/index.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("p2p limits: discovery address filter", () => {
  const owner = randomIdentity();
  const other = randomIdentity();
  const id = owner.peerId.toString();
  const pub = { allowPrivateAddresses: false };
  const dev = { allowPrivateAddresses: true };

  it("dials only addresses whose /p2p/ PeerId is the registrant's key", () => {
    assert.equal(checkRegisteredAddr(`/ip4/8.8.8.8/tcp/4001/p2p/${id}`, owner.address, pub), null);
    // the registrant's address in any case
    assert.equal(checkRegisteredAddr(`/ip4/8.8.8.8/tcp/4001/p2p/${id}`, owner.address.toLowerCase(), pub), null);
    assert.equal(
      checkRegisteredAddr(`/ip4/8.8.8.8/tcp/4001/p2p/${other.peerId}`, owner.address, pub),
      "peer_id_mismatch",
      "someone else's node registered under my address",
    );
    assert.equal(checkRegisteredAddr("/ip4/8.8.8.8/tcp/4001", owner.address, pub), "no_peer_id");
    assert.equal(checkRegisteredAddr("not a multiaddr", owner.address, pub), "malformed");
    assert.equal(checkRegisteredAddr(`/p2p/${id}`, owner.address, pub), "no_host");
    // an Ed25519 PeerId has no Ethereum address
    assert.equal(
      checkRegisteredAddr(
        "/ip4/8.8.8.8/tcp/1/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
        owner.address,
        pub,
      ),
      "peer_id_mismatch",
    );
  });

  it("never loopback, private or link-local ranges unless the run allows them (dev chain)", () => {
    const hosts = [
      "/ip4/127.0.0.1",
      "/ip4/10.1.2.3",
      "/ip4/172.16.0.9",
      "/ip4/192.168.1.1",
      "/ip4/169.254.169.254", // cloud metadata service
      "/ip4/100.64.0.1",
      "/ip4/0.0.0.0",
      "/ip6/::1",
      "/ip6/fe80::1",
      "/ip6/fd00::1",
      "/dns4/localhost",
    ];
    for (const h of hosts) {
      const a = `${h}/tcp/4001/p2p/${id}`;
      assert.equal(checkRegisteredAddr(a, owner.address, pub), "private_address", a);
      assert.equal(checkRegisteredAddr(a, owner.address, dev), null, `${a} on a dev chain`);
    }
    for (const h of ["/ip4/1.1.1.1", "/ip6/2606:4700::1111", "/dns4/peer.example.org"])
      assert.equal(checkRegisteredAddr(`${h}/tcp/4001/p2p/${id}`, owner.address, pub), null, h);
  });

  it("dialableAddrs keeps the passing addresses in order", () => {
    const addrs = [
      `/ip4/127.0.0.1/tcp/1/p2p/${id}`,
      `/ip4/9.9.9.9/tcp/1/p2p/${id}`,
      `/ip4/9.9.9.9/tcp/2/p2p/${other.peerId}`,
      `/dns4/a.example/tcp/3/p2p/${id}`,
    ];
    assert.deepEqual(dialableAddrs(addrs, owner.address, pub), [addrs[1], addrs[3]]);
    assert.deepEqual(dialableAddrs(addrs, owner.address, dev), [addrs[0], addrs[1], addrs[3]]);
  });
});

describe("p2p limits: negative registration cache", () => {
  it("an unknown sender costs one lookup per TTL, however many messages; concurrent lookups share one call", async () => {
    const calls: string[] = [];
    const registry = new Registry();
    const cache = new RegistrationCache(
      { registryNegativeTtlMs: 200, registryNegativeCacheSize: 2 },
      {
        isRegistered: async (a) => {
          calls.push(a);
          await sleep(20); // an eth_call
          return a === "0xaa";
        },
        metrics: createP2PMetrics(registry),
      },
    );
    const burst = await Promise.all(Array.from({ length: 2000 }, () => cache.isRegistered("0xBB")));
    assert.ok(burst.every((r) => r === false));
    for (let i = 0; i < 2000; i++) assert.equal(await cache.isRegistered("0xbb"), false);
    assert.deepEqual(calls, ["0xBB"], "2000 + 2000 messages, one registry lookup");
    // positives are not cached here (the roles' directory keeps them)
    assert.equal(await cache.isRegistered("0xaa"), true);
    assert.equal(await cache.isRegistered("0xaa"), true);
    assert.equal(calls.length, 3);
    // the TTL lets a peer that registered since be believed
    await sleep(250);
    await cache.isRegistered("0xbb");
    assert.equal(calls.length, 4);
    // bounded: the least recently used entry is evicted
    await cache.isRegistered("0xc1");
    await cache.isRegistered("0xc2");
    await cache.isRegistered("0xbb");
    assert.equal(calls.length, 7);
    const lookups = (await registry.getSingleMetric("cotrain_p2p_registry_lookups_total")!.get()).values;
    const by = (r: string) => lookups.find((v) => v.labels.result === r)?.value ?? 0;
    assert.equal(by("lookup"), 7);
    assert.equal(by("shared"), 1999);
    assert.equal(by("negative_hit"), 2000);
  });

  it("a failing lookup is not cached as 'not registered' (the registry may be down, not the sender unknown)", async () => {
    let up = false;
    const cache = new RegistrationCache(
      { registryNegativeTtlMs: 60_000, registryNegativeCacheSize: 10 },
      {
        isRegistered: async () => {
          if (!up) throw new Error("ECONNREFUSED");
          return true;
        },
        metrics: null,
      },
    );
    await assert.rejects(cache.isRegistered("0xaa"), /ECONNREFUSED/);
    up = true;
    assert.equal(await cache.isRegistered("0xaa"), true);
  });
});

describe("p2p limits: stream limiter", () => {
  it("refuses past the per-peer and the global limit, and frees slots on release (once)", () => {
    const seen: number[] = [];
    const l = new StreamLimiter({ perPeer: 2, global: 3 }, (n) => seen.push(n));
    const a1 = l.acquire("a");
    const a2 = l.acquire("a");
    assert.deepEqual(l.acquire("a"), { refused: "peer_limit" });
    const b1 = l.acquire("b");
    assert.deepEqual(l.acquire("c"), { refused: "global_limit" });
    assert.ok("release" in a1 && "release" in a2 && "release" in b1);
    a1.release();
    a1.release(); // double release does not free a second slot
    assert.equal(l.size, 2);
    assert.ok("release" in l.acquire("c"));
    assert.deepEqual(l.acquire("d"), { refused: "global_limit" });
    assert.deepEqual(seen, [1, 2, 3, 2, 3]);
  });
});
