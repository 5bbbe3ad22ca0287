// Store benchmark: commitRound (params + EF in one batch) and load for a model of --params float32
// values in --tensors tensors; blob put/get of --blob-bytes payloads. Prints JSON lines.
// npm run bench:store -- --params 10000000 --tensors 50 --rounds 5
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { ParamMap } from "../node/sparseloco/types.ts";
import { Store } from "../node/store/index.ts";

const { values } = parseArgs({
  options: {
    params: { type: "string", default: "10000000" },
    tensors: { type: "string", default: "50" },
    rounds: { type: "string", default: "5" },
    "blob-bytes": { type: "string", default: "2700000" },
    blobs: { type: "string", default: "20" },
    sync: { type: "string", default: "true" },
  },
});
const P = Number(values.params);
const T = Number(values.tensors);
const R = Number(values.rounds);
const sync = values.sync === "true";

const dir = await mkdtemp(join(tmpdir(), "cotrain-bench-store-"));
const store = await Store.open({ dataDir: dir, syncCommits: sync });
try {
  const per = Math.ceil(P / T);
  const mk = (v: number): ParamMap => {
    const m: ParamMap = new Map();
    for (let t = 0; t < T; t++) m.set(`t${t}`, new Float32Array(per).fill(v));
    return m;
  };
  const commit: number[] = [];
  const load: number[] = [];
  for (let r = 1; r <= R; r++) {
    const params = mk(r);
    const ef = mk(-r);
    let t0 = performance.now();
    await store.peerState.commitRound({ round: r, modelHash: `h${r}`, params, errorFeedback: ef });
    commit.push((performance.now() - t0) / 1000);
    t0 = performance.now();
    const s = await store.peerState.load();
    load.push((performance.now() - t0) / 1000);
    if (s?.round !== r) throw new Error("bad load");
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const mb = (2 * per * T * 4) / 2 ** 20;
  console.log(
    JSON.stringify({
      bench: "store.commitRound",
      params: per * T,
      tensors: T,
      sync,
      mib: +mb.toFixed(1),
      median_s: +med(commit).toFixed(3),
      best_s: +Math.min(...commit).toFixed(3),
      mib_per_s: +(mb / med(commit)).toFixed(0),
    }),
  );
  console.log(
    JSON.stringify({
      bench: "store.load",
      params: per * T,
      tensors: T,
      mib: +mb.toFixed(1),
      median_s: +med(load).toFixed(3),
      best_s: +Math.min(...load).toFixed(3),
    }),
  );

  const B = Number(values.blobs);
  const bytes = Number(values["blob-bytes"]);
  const payloads = Array.from({ length: B }, () => randomBytes(bytes));
  let t0 = performance.now();
  const hashes: string[] = [];
  for (let i = 0; i < B; i++) hashes.push(await store.blobs.put(payloads[i], { kind: "update", round: i }));
  const putS = (performance.now() - t0) / 1000;
  t0 = performance.now();
  for (const h of hashes) await store.blobs.get(h);
  const getS = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const pruned = await store.blobs.prune(B, 2);
  const pruneS = (performance.now() - t0) / 1000;
  console.log(
    JSON.stringify({
      bench: "store.blobs",
      blobs: B,
      bytes,
      put_ms_each: +((putS / B) * 1000).toFixed(2),
      get_ms_each: +((getS / B) * 1000).toFixed(2),
      prune_ms: +(pruneS * 1000).toFixed(1),
      pruned,
    }),
  );
} finally {
  await store.close();
  await rm(dir, { recursive: true, force: true });
}
