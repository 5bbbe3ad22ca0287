import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";

/**
 * `npm run bench:learning -- --quick` as CI runs it: four methods, 2 peers, 6 rounds of H=8 on nano, through the
 * network's own assignment, engine, compression, codec, aggregation and outer step. Asserts that every
 * method learns and that the table, the JSON lines and the plot are complete, not how good each is
 * (that is what the full benchmark measures; docs/learning.md).
 */
describe("bench:learning --quick", () => {
  it("every method learns; one evaluation line per round, one result row per method, a plot line each", () => {
    const out = mkdtempSync(path.join(tmpdir(), "bench-learning-"));
    try {
      const res = spawnSync(
        process.execPath,
        ["--import", "tsx", "scripts/bench-learning.ts", "--quick", "--out", out, "--name", "quick"],
        { encoding: "utf8", timeout: 600_000 },
      );
      assert.equal(res.status, 0, res.stderr.slice(-2000));
      const lines = res.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      const evals = lines.filter((l) => l.bench === "learning");
      const rows = lines.filter((l) => l.bench === "learning.result");
      assert.deepEqual(
        rows.map((r) => r.method),
        ["AdamW-DDP", "DiLoCo", "SparseLoCo", "MuLoCo"],
      );
      for (const m of ["ddp+adamw", "diloco+adamw", "sparseloco+adamw", "sparseloco+muon"]) {
        const pts = evals.filter((e) => e.method === m);
        assert.deepEqual(
          pts.map((p) => p.round),
          [0, 1, 2, 3, 4, 5, 6],
          m,
        );
        assert.ok(pts[0].heldout > 5 && pts[0].heldout < 6, `${m}: start ${pts[0].heldout}, about ln 256`);
      }
      const start = evals[0].heldout;
      for (const r of rows) {
        // Measured (deterministic): DDP 2.72, DiLoCo 2.83, SparseLoCo 3.74, MuLoCo 4.05 from 5.58; an outer step
        // that does nothing leaves θ_0 at 5.58, one with the wrong sign diverges.
        assert.ok(r.heldout < 0.75 * start, `${r.method}: held-out ${r.heldout} did not fall below 0.75 x ${start}`);
        assert.equal(r.tokens, 2 * 4 * 32 * 8 * 6);
      }
      const bytes = new Map(rows.map((r) => [r.method, r.bytes_per_peer_per_round]));
      // 2-bit values + 12-bit indices at 64 of 4096 (1-D tensors dense): far below DiLoCo's fp32 deltas.
      assert.ok(bytes.get("SparseLoCo")! * 40 < bytes.get("DiLoCo")!, JSON.stringify([...bytes]));
      assert.equal(bytes.get("MuLoCo"), bytes.get("SparseLoCo"));

      const table = readFileSync(path.join(out, "quick.md"), "utf8");
      for (const m of ["AdamW-DDP", "DiLoCo", "SparseLoCo", "MuLoCo"])
        assert.match(table, new RegExp(`^\\| ${m} \\|`, "m"));
      const svg = readFileSync(path.join(out, "quick.svg"), "utf8");
      assert.equal(svg.match(/<polyline /g)?.length, 4);
      const saved = JSON.parse(readFileSync(path.join(out, "quick.json"), "utf8"));
      assert.equal(saved.results.length, 4);

      // --combine: earlier runs in one report, a label naming one file's methods; another budget refused
      const bench = (args: string[]) =>
        spawnSync(process.execPath, ["--import", "tsx", "scripts/bench-learning.ts", "--out", out, ...args], {
          encoding: "utf8",
        });
      const quick = path.join(out, "quick.json");
      const both = bench(["--combine", `${quick},${quick}=again`, "--name", "both"]);
      assert.equal(both.status, 0, both.stderr.slice(-2000));
      const combined = readFileSync(path.join(out, "both.md"), "utf8");
      assert.match(combined, /^\| again SparseLoCo \| /m);
      assert.equal(readFileSync(path.join(out, "both.svg"), "utf8").match(/<polyline /g)?.length, 8);
      writeFileSync(path.join(out, "other.json"), JSON.stringify({ ...saved, config: { ...saved.config, H: 30 } }));
      const refused = bench(["--combine", `${quick},${path.join(out, "other.json")}`]);
      assert.notEqual(refused.status, 0);
      assert.match(refused.stderr, /--combine: .*other\.json has H 30, the first run 8/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
