import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import type { Dataset } from "../../node/data/index.ts";
import {
  type ContinualPlan,
  continualVariant,
  effectiveFraction,
  variantNames,
} from "../../scripts/learning/continual.ts";

// Only the identity of the datasets matters to the plan (the bench run below uses the real ones).
const first = { manifestHash: "brown" } as unknown as Dataset;
const second = { manifestHash: "code" } as unknown as Dataset;
const plan: ContinualPlan = {
  H: 4,
  batch: 20,
  rounds1: 5,
  rounds2: 5,
  peakLr: 1e-3,
  warmup: 2,
  minRatio: 0.1,
  rewarmLr: 1e-3,
  rewarmWarmup: 2,
  replay: 0.05,
  cooldown: 4,
  constantRatio: 0.5,
  anneal: 4,
};
const s1 = 20; // rounds1 x H
const end = 39; // last global inner step

describe("bench:continual variants", () => {
  const v = Object.fromEntries(variantNames.map((n) => [n, continualVariant(n, plan, first, second)]));
  it("(a) stays at the stage-1 floor; (b) and (c) re-warm to the peak and re-decay", () => {
    assert.ok(Math.abs(v.continue.schedule(s1) - 1e-4) < 1e-12);
    assert.ok(Math.abs(v.continue.schedule(end) - 1e-4) < 1e-12);
    for (const n of ["rewarm", "replay"]) {
      assert.ok(Math.abs(v[n].schedule(s1 - 1) - 1e-4) < 1e-5, n); // the end of the stage-1 cosine
      assert.equal(v[n].schedule(s1), 5e-4); // first re-warm step: peak x 1/2
      assert.equal(v[n].schedule(s1 + 1), 1e-3);
      assert.ok(Math.abs(v[n].schedule(end) - 1e-4) < 2e-5, `${n}: ${v[n].schedule(end)}`);
    }
  });
  it("(d) holds a constant across the switch and anneals at the end; (e) is one cosine over both stages", () => {
    assert.equal(v.infinite.schedule(s1 - 1), 5e-4);
    assert.equal(v.infinite.schedule(s1), 5e-4);
    assert.ok(Math.abs(v.infinite.schedule(end) - 2e-4) < 1e-12); // 3/4 of the way from 5e-4 to 1e-4
    assert.ok(v.scratch.schedule(s1) > 4e-4 && v.scratch.schedule(s1) < 7e-4, `${v.scratch.schedule(s1)}`);
  });
  it("switches the data at the stage start; replay and the mixture use assignSamples' replay", () => {
    for (const n of ["continue", "rewarm", "replay", "infinite"]) {
      assert.equal(v[n].data(4).dataset, first);
      assert.equal(v[n].data(4).replay, undefined);
      assert.equal(v[n].data(5).dataset, second);
    }
    assert.deepEqual(v.replay.data(5).replay, { dataset: first, fraction: 0.05 });
    assert.equal(v.rewarm.data(5).replay, undefined);
    assert.deepEqual(v.scratch.data(0), { dataset: second, replay: { dataset: first, fraction: 0.5 } });
    assert.equal(v.replay.stage2FirstShare, 0.05);
    assert.equal(effectiveFraction(0.05, 8), 0); // why the bench's default batch is 20
  });
});

/**
 * `npm run bench:continual` at a toy size through the network's own functions: every variant runs, both
 * corpora are evaluated at the stage switch and at the end, and the table, JSON and plot are complete.
 */
describe("bench:continual (toy size)", () => {
  it("runs all five variants at equal tokens and writes the table, the JSON and the plot", () => {
    const out = mkdtempSync(path.join(tmpdir(), "bench-continual-"));
    try {
      const res = spawnSync(
        process.execPath,
        [
          "--import",
          "tsx",
          "scripts/bench-continual.ts",
          ...["--quick", "--rounds1", "2", "--rounds2", "2", "--H", "2", "--seq-len", "16", "--heldout", "4"],
          ...["--out", out, "--name", "toy"],
        ],
        { encoding: "utf8", timeout: 600_000 },
      );
      assert.equal(res.status, 0, res.stderr.slice(-2000));
      const lines = res.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      const evals = lines.filter((l) => l.bench === "continual");
      const rows = lines.filter((l) => l.bench === "continual.result");
      assert.deepEqual(
        rows.map((r) => r.variant),
        ["(a) continue", "(b) rewarm", "(c) replay", "(d) infinite", "(e) scratch"],
      );
      for (const n of variantNames) {
        const pts = evals.filter((e) => e.variant === n);
        assert.deepEqual(
          pts.map((p) => p.round),
          [0, 1, 2, 3, 4],
          n,
        );
        for (const p of pts) assert.ok(p.brown > 0 && p["ethers-ts"] > 0, JSON.stringify(p));
        // Training moves both losses below the untrained ~ln 256 = 5.55.
        assert.ok(pts[4].brown < pts[0].brown - 0.05 && pts[4]["ethers-ts"] < pts[0]["ethers-ts"] - 0.05, n);
      }
      for (const r of rows) assert.equal(r.tokens, 2 * 20 * 16 * 2 * 4);
      const by = new Map(rows.map((r) => [r.variant.slice(4), r]));
      // Same stage 1 for (a), (b), (c) (deterministic); their schedule and replay make stage 2 differ.
      assert.equal(by.get("continue").brown_stage1, by.get("rewarm").brown_stage1);
      assert.equal(by.get("replay").brown_stage1, by.get("rewarm").brown_stage1);
      assert.notEqual(by.get("continue").brown_final, by.get("rewarm").brown_final);
      assert.notEqual(by.get("replay").brown_final, by.get("rewarm").brown_final);

      const table = readFileSync(path.join(out, "toy.md"), "utf8");
      for (const r of rows) assert.ok(table.includes(`| ${r.variant} |`), r.variant);
      const svg = readFileSync(path.join(out, "toy.svg"), "utf8");
      assert.equal(svg.match(/<polyline /g)?.length, 10); // 5 variants x 2 held-out sets
      assert.equal(svg.match(/stroke-dasharray/g)?.length, 2); // the stage switch, on each chart
      assert.equal(JSON.parse(readFileSync(path.join(out, "toy.json"), "utf8")).results.length, 5);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
