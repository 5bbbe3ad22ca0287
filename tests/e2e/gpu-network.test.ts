import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { TrainingRunClient } from "../../node/chain/index.ts";
import { LocalNetwork } from "../../node/testnet/network.ts";
import { logLines, nodeAddress, sleepMs } from "../fixtures/e2e-helpers.ts";

/**
 * Issue 12's end-to-end test: a short local network (anvil, real libp2p, nano on Brown) where peer-0
 * trains with the WebGPU engine (`backend: webgpu`, Mesa's lavapipe in CI) and peer-1 and the validator
 * with tfjs-wasm. Different engines, one model: every node must agree on every finalized hash.
 */
const ROUND = 15;
const TARGET_ROUNDS = 4; // finalized rounds 0..3

describe("network with one WebGPU peer and wasm peers", { timeout: 300_000 }, () => {
  let dir: string;
  let net: LocalNetwork;
  let client: TrainingRunClient;
  let closeClient: () => void;
  const chainHash = new Map<number, string>();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "cotrain-e2e-gpu-"));
    net = await LocalNetwork.start({
      dir,
      peers: 2,
      validators: 1,
      backend: "wasm",
      logLevel: "info",
      datasetDir: join(tmpdir(), "cotrain-dataset-brown"),
      anvilPort: 0,
      blockTime: 1,
      run: {
        runId: "e2e-gpu",
        model: { preset: "nano" },
        // A CPU Vulkan runs nano at a few steps per second: short rounds of 2 small steps.
        train: { innerSteps: 2, batchSize: 2 },
        validator: { checkpointEvery: 2, heldoutSamples: 4, ownSamples: 4 },
      },
      deploy: {
        roundSeconds: ROUND,
        submissionSeconds: 4,
        scoringSeconds: 13,
        genesisDelaySeconds: 10,
        gatherSize: 16,
      },
    });
    ({ client, close: closeClient } = net.client());
    await net.startNode("validator", 0);
    await Promise.all([net.startNode("peer", 0, { backend: "webgpu" }), net.startNode("peer", 1)]);
    const deadline = Date.now() + 220_000;
    while (Date.now() < deadline) {
      await sleepMs(1000);
      for (const n of net.nodes.values()) assert.equal(n.child.exitCode, null, `${n.name} exited; see ${n.logFile}`);
      const last = await client.lastFinalizedRound();
      if (last === null) continue;
      for (let r = 0; r <= last; r++) {
        const h = chainHash.has(r) ? null : await client.modelHashOf(r);
        if (h) chainHash.set(r, h.replace(/^0x/, ""));
      }
      if (last >= TARGET_ROUNDS - 1) break;
    }
  });

  after(async () => {
    closeClient?.();
    await net?.stop();
    if (process.env.COTRAIN_KEEP_E2E) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });

  it("peer-0 trains on the WebGPU engine, the others on wasm", () => {
    const started = (name: string) => logLines(net.nodes.get(name)!, "node started").at(-1)?.backend;
    assert.equal(started("peer-0"), "webgpu");
    assert.equal(started("peer-1"), "wasm");
    assert.equal(started("validator-0"), "wasm");
  });

  it(`finalizes ${TARGET_ROUNDS} rounds, and after each every peer holds the chain's model hash`, () => {
    assert.ok(chainHash.size >= TARGET_ROUNDS, `finalized hashes: ${[...chainHash.keys()]}`);
    for (const name of ["peer-0", "peer-1"]) {
      const node = net.nodes.get(name)!;
      // A peer that came up after round 0 closed catches up instead of applying that round's step.
      const lines = [...logLines(node, "outer step applied"), ...logLines(node, "caught up one round")];
      const mine = new Map(lines.map((l) => [l.round as number, l.hash as string]));
      const first = Math.min(...mine.keys());
      for (const [r, want] of chainHash) {
        if (r < first) continue;
        assert.ok(mine.has(r), `${name} has no hash for finalized round ${r}`);
        assert.equal(mine.get(r), want, `${name} round ${r}`);
      }
      assert.ok(
        [...chainHash.keys()].filter((r) => mine.has(r)).length >= TARGET_ROUNDS - 1,
        `${name} agreed on too few rounds`,
      );
    }
  });

  it("the WebGPU peer's updates were scored and aggregated", () => {
    const addr = nodeAddress(net, "peer", 0);
    const published = logLines(net.nodes.get("peer-0")!, "update published");
    assert.ok(published.length >= 1, "peer-0 published an update");
    const scored = logLines(net.nodes.get("validator-0")!, "round scored");
    assert.ok(
      scored.some((l) => (l.gathered as string[]).includes(addr)),
      "an update trained on WebGPU went into the aggregate",
    );
  });
});
