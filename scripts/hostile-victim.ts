// Child process of scripts/bench-hostile.ts (blob attack): one node over a real LevelDB store holding one
// large blob, so its RSS is measured apart from the attackers'. Talks to the parent over IPC:
// → {ready, multiaddr, hash}; ← "report" → {rss, peak}; ← "stop" → exits.
import "../node/polyfill.ts";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomIdentity } from "../node/identity/index.ts";
import { createP2PNode } from "../node/p2p/index.ts";
import { Store } from "../node/store/index.ts";

const blobBytes = Number(process.env.VICTIM_BLOB_BYTES ?? 40 * 1024 * 1024);
const registered = new Set<string>(JSON.parse(process.env.VICTIM_REGISTERED ?? "[]"));
const dir = mkdtempSync(join(tmpdir(), "cotrain-victim-"));
const send = (m: unknown) => process.send?.(m);

async function main() {
  const store = await Store.open({ dataDir: dir });
  const hash = await store.blobs.put(randomBytes(blobBytes), { kind: "checkpoint", round: 1 });
  const node = await createP2PNode(
    { runId: "hostile", listen: ["/ip4/127.0.0.1/tcp/0"], heartbeatIntervalMs: 200, blobMaxBytes: 2 * blobBytes },
    {
      identity: randomIdentity(),
      isRegistered: (a) => registered.has(a.toLowerCase()),
      blobStore: store.blobs.p2pView(() => ({ kind: "update", round: 1 })),
    },
  );
  global.gc?.();
  await new Promise((r) => setTimeout(r, 200));
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  process.on("message", async (m) => {
    if (m === "report") {
      const mu = process.memoryUsage();
      send({ rss: mu.rss, peak, heapUsed: mu.heapUsed, arrayBuffers: mu.arrayBuffers });
    } else if (m === "reset-peak") {
      global.gc?.();
      peak = process.memoryUsage().rss;
      send({ rss: peak });
    } else if (m === "stop") {
      clearInterval(sampler);
      await node.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    }
  });
  send({ ready: true, multiaddr: node.multiaddrs[0].toString(), hash });
}

main().catch((err) => {
  console.error(err);
  rmSync(dir, { recursive: true, force: true });
  process.exit(1);
});
