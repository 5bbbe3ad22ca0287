import assert from "node:assert/strict";
import { type Server, createServer } from "node:net";
import { describe, it } from "node:test";
import { Registry } from "prom-client";
import { randomIdentity } from "../../node/identity/index.ts";
import { P2PListenError, createP2PNode } from "../../node/p2p/index.ts";

/** A busy listen port is reported as one line naming the address and the port (not libp2p's raw message). */
describe("p2p: listen errors", () => {
  it("a port another process holds gives P2PListenError naming it", async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const err = await createP2PNode(
        { runId: "listen-test", listen: [`/ip4/127.0.0.1/tcp/${port}`], allowPrivateAddresses: true },
        {
          identity: randomIdentity(),
          isRegistered: () => true,
          currentRound: () => 0,
          blobStore: { get: async () => undefined, put: async () => {} },
          registry: new Registry(),
        },
      ).then(
        async (node) => {
          await node.stop();
          return null;
        },
        (e: unknown) => e,
      );
      assert.ok(err instanceof P2PListenError, `got ${err}`);
      assert.equal(err.port, port);
      assert.equal(err.address, `/ip4/127.0.0.1/tcp/${port}`);
      assert.equal(
        err.message,
        `cannot listen on /ip4/127.0.0.1/tcp/${port}: port ${port} is already in use (another cotrain node?); pass another --listen port (EADDRINUSE)`,
      );
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });
});
