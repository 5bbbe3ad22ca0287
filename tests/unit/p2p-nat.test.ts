import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { multiaddr } from "@multiformats/multiaddr";
import { ConfigError } from "../../node/config/errors.ts";
import { loadNodeConfig } from "../../node/config/node-config.ts";
import { randomIdentity } from "../../node/identity/index.ts";
import {
  advertisableAddrs,
  checkRegisteredAddr,
  defaultRelayServerLimits,
  ownerPeerId,
  resolveP2POptions,
} from "../../node/p2p/index.ts";

const self = randomIdentity();
const relay = randomIdentity();
const id = self.peerId.toString();
const rid = relay.peerId.toString();

describe("p2p NAT: which addresses go on chain", () => {
  const addrs = [
    `/ip4/127.0.0.1/tcp/4001/p2p/${id}`,
    `/ip4/192.168.1.20/tcp/4001/p2p/${id}`,
    `/ip4/11.18.1.2/tcp/4001/p2p/${id}`,
    `/ip4/11.18.1.1/tcp/4001/p2p/${rid}/p2p-circuit/p2p/${id}`,
    `/ip4/10.0.0.1/tcp/4001/p2p/${rid}/p2p-circuit/p2p/${id}`,
  ].map((a) => multiaddr(a));

  it("public and relayed (through a public relay) only; every address on a dev chain", () => {
    assert.deepEqual(advertisableAddrs(addrs, { allowPrivateAddresses: false }).map(String), [
      `/ip4/11.18.1.2/tcp/4001/p2p/${id}`,
      `/ip4/11.18.1.1/tcp/4001/p2p/${rid}/p2p-circuit/p2p/${id}`,
    ]);
    assert.equal(advertisableAddrs(addrs, { allowPrivateAddresses: true }).length, addrs.length);
  });

  it("a registered relayed address belongs to the node at its end, not to the relay", () => {
    const circuit = `/ip4/11.18.1.1/tcp/4001/p2p/${rid}/p2p-circuit/p2p/${id}`;
    const opts = { allowPrivateAddresses: false };
    assert.equal(checkRegisteredAddr(circuit, self.address, opts), null);
    assert.equal(checkRegisteredAddr(circuit, relay.address, opts), "peer_id_mismatch");
    assert.equal(
      checkRegisteredAddr(`/ip4/10.0.0.1/tcp/4001/p2p/${rid}/p2p-circuit/p2p/${id}`, self.address, opts),
      "private_address",
    );
    // chain discovery keys what it dials by this id: the relay's would make it skip the node, or dial
    // a relayed address through itself when it is the relay
    assert.equal(ownerPeerId(multiaddr(circuit)), id);
    assert.equal(ownerPeerId(multiaddr(`/ip4/11.18.1.1/tcp/4001/p2p/${id}`)), id);
  });
});

describe("p2p NAT: relay limits and settings", () => {
  it("every relay limit must be a positive integer; the error names it", () => {
    assert.throws(
      () =>
        resolveP2POptions({
          runId: "r",
          nat: { ...resolveP2POptions({}).nat, relay: { ...defaultRelayServerLimits, maxReservations: 0 } },
        }),
      /nat\.relay\.maxReservations must be a positive integer, got 0/,
    );
    assert.equal(resolveP2POptions({ runId: "r" }).nat.relay, null, "no relay unless asked");
  });

  it("--announce must be a multiaddr; --relay and its cap are typed settings", () => {
    const base = { key: "k", deployment: "d", runConfig: "r" };
    assert.throws(
      () => loadNodeConfig({ flags: { ...base, announce: ["203.0.113.7:4001"] } }),
      (e: unknown) => e instanceof ConfigError && /announce/.test(e.message) && /not a multiaddr/.test(e.message),
    );
    const c = loadNodeConfig({ flags: base, env: { COTRAIN_RELAY: "true", COTRAIN_RELAY_MAX_RESERVATIONS: "8" } });
    assert.equal(c.relay, true);
    assert.equal(c.relayMaxReservations, 8);
    assert.throws(() => loadNodeConfig({ flags: { ...base, relayMaxReservations: 0 } }), /relayMaxReservations/);
  });
});
