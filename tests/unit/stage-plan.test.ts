import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { ConfigTimelineEntry } from "../../node/chain/index.ts";
import {
  type RunConfigInput,
  innerLrSchedule,
  readRunConfig,
  runConfigHash,
  runConfigSchema,
  truncateStages,
} from "../../node/config/index.ts";
import { type Dataset, assignSamples, assignmentBatches, sampleDigest } from "../../node/data/index.ts";
import { RoleError } from "../../node/roles/errors.ts";
import { StagePlan } from "../../node/roles/stage-plan.ts";

const dir = mkdtempSync(join(tmpdir(), "cotrain-stage-plan-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** An in-memory dataset: its train split is `fill` repeated, so a batch row shows where it came from. */
function fakeDataset(hashChar: string, fill: number): Dataset {
  return {
    dir: `/mem/${hashChar}`,
    manifest: {} as Dataset["manifest"],
    manifestHash: hashChar.repeat(64),
    train: new Uint16Array(4096).fill(fill),
    heldout: new Uint16Array(1024).fill(fill),
  };
}
const DS = new Map(["a", "b", "c"].map((c, i) => [c.repeat(64), fakeDataset(c, i + 1)]));
const A = "a".repeat(64);
const B = "b".repeat(64);
const C = "c".repeat(64);

const base: RunConfigInput = {
  runId: "plan",
  train: { innerSteps: 4, peakLr: 1e-3, warmupSteps: 8, totalSteps: 100, minLrRatio: 0.1 },
  dataset: { manifestHash: A },
};
const stage = (dataset: string, startRound: number, replay = 0) => ({
  dataset,
  startRound,
  schedule:
    startRound === 0
      ? ({ kind: "continue" } as const)
      : ({ kind: "rewarm", peakLr: 2e-3, warmupSteps: 4, totalSteps: 40, minLrRatio: 0.1 } as const),
  replay,
});
const withStages = (...stages: ReturnType<typeof stage>[]) => ({ ...base, data: { stages } });
const hashOf = (input: RunConfigInput) => runConfigHash(runConfigSchema.parse(input));

function plan(file: string, timeline: () => ConfigTimelineEntry[]) {
  const warnings: string[] = [];
  const p = new StagePlan(
    { runConfig: file },
    {
      timeline: async () => timeline(),
      readRunConfig,
      dataset: (h) => {
        const d = DS.get(h ?? A);
        if (!d) throw new Error(`no dataset ${h}`);
        return d;
      },
      logger: { info: () => {}, warn: (o: unknown, m?: string) => void warnings.push(m ?? String(o)) } as never,
    },
  );
  return { p, warnings };
}

describe("StagePlan: the chain's config timeline against the file's stage prefixes", () => {
  it("a run deployed without stages picks up an appended stage at its round, the lr included", async () => {
    const file = join(dir, "run-a.json");
    writeFileSync(file, JSON.stringify(base));
    const timeline: ConfigTimelineEntry[] = [{ fromRound: 0, configHash: hashOf(base) }];
    const { p, warnings } = plan(file, () => timeline);
    await p.refresh(3);
    assert.equal((await p.at(3)).dataset.manifestHash, A);
    const lr = p.lr("adamw");
    const legacy = innerLrSchedule(runConfigSchema.parse(base).train);
    assert.equal(lr(50), legacy(50));

    // The operator appends stage 2 (from round 10) on chain before the node's file has it: a warning.
    const next = withStages(stage(A, 0), stage(B, 10, 0.25));
    timeline.push({ fromRound: 10, configHash: hashOf(next) });
    await p.refresh(8);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /rounds from 10 is 0x[0-9a-f]{64}, which run config .* does not cover/);
    // The file is updated: round 9 still stage 1, round 10 stage 2 with replay of the first dataset.
    writeFileSync(file, JSON.stringify(next));
    const r9 = await p.at(9);
    const r10 = await p.at(10);
    assert.deepEqual([r9.stage.index, r9.dataset.manifestHash, r9.replay], [0, A, undefined]);
    assert.deepEqual([r10.stage.index, r10.dataset.manifestHash], [1, B]);
    assert.deepEqual(
      r10.replay?.dataset.map((d) => d.manifestHash),
      [A],
    );
    assert.deepEqual(
      r10.stageDatasets.map((d) => d.manifestHash),
      [A, B],
    );
    assert.equal(lr(39), legacy(39)); // round 9: the old curve
    assert.equal(lr(40), 2e-3 / 4); // round 10: re-warm from the stage start
  });

  it("an entry the file does not cover stops the node once it takes effect, with one clear error", async () => {
    const file = join(dir, "run-b.json");
    const first = withStages(stage(A, 0));
    writeFileSync(file, JSON.stringify(first));
    const unknown = withStages(stage(A, 0), stage(C, 6));
    const timeline = [
      { fromRound: 0, configHash: hashOf(first) },
      { fromRound: 6, configHash: hashOf(unknown) },
    ];
    const { p } = plan(file, () => timeline);
    await p.refresh(4);
    assert.equal((await p.at(5)).dataset.manifestHash, A);
    await assert.rejects(p.at(6), (e: Error) => {
      assert.ok(e instanceof RoleError && e.code === "CONFIG_UNKNOWN");
      assert.match(
        e.message,
        /config for rounds from 6 is 0x[0-9a-f]{64}, which run config .* does not cover: get the run's newest config/,
      );
      return true;
    });
  });

  it("stages in the file not yet on chain are ignored; a file that matches no entry 0 is refused", async () => {
    const file = join(dir, "run-c.json");
    const full = withStages(stage(A, 0), stage(B, 5, 0.1), stage(C, 9, 0.1));
    writeFileSync(file, JSON.stringify(full));
    const parsed = runConfigSchema.parse(full);
    const { p } = plan(file, () => [
      { fromRound: 0, configHash: runConfigHash(truncateStages(parsed, 1)) },
      { fromRound: 5, configHash: runConfigHash(truncateStages(parsed, 2)) },
    ]);
    const r12 = await p.at(12);
    assert.deepEqual([r12.stage.index, r12.dataset.manifestHash], [1, B]); // stage 3 is not on chain
    const { p: q } = plan(file, () => [{ fromRound: 0, configHash: hashOf({ ...base, runId: "another run" }) }]);
    await assert.rejects(q.refresh(0), (e: Error) => e instanceof RoleError && e.code === "CONFIG_HASH_MISMATCH");
  });
});

describe("replay from every earlier stage", () => {
  const [a, b, c] = [...DS.values()];
  const req = {
    runId: "r",
    round: 3,
    address: "0x00000000000000000000000000000000000000aa",
    count: 64,
    seqLen: 8,
    batchSize: 8,
  };
  it("draws each replay sample's dataset deterministically and encodes it in the digest", () => {
    const x = assignSamples({ ...req, replay: { dataset: [a, b], fraction: 0.25 } }, c);
    const y = assignSamples({ ...req, replay: { dataset: [a, b], fraction: 0.25 } }, c);
    assert.deepEqual(x, y);
    const replays = x.samples.filter((s) => s.source === "replay");
    assert.equal(replays.length, 16);
    const from = new Set(replays.map((s) => s.from));
    assert.deepEqual([...from].sort(), [0, 1]); // both earlier datasets drawn
    const batches = assignmentBatches(x, c, 8, 8, [a, b]);
    // rows 6 and 7 of every batch are replay: their tokens are dataset a's (1) or b's (2), never c's (3)
    for (const bt of batches)
      for (let row = 0; row < 8; row++) {
        const tok = bt.inputs[row * 8];
        if (row < 6) assert.equal(tok, 3);
        else assert.ok(tok === 1 || tok === 2);
      }
    // The digest's source byte is 1 + the replay dataset's index: moving a sample to another dataset changes it.
    const moved = x.samples.map((s) => (s.source === "replay" ? { ...s, from: 1 - (s.from ?? 0) } : s));
    assert.notEqual(sampleDigest(moved), x.dataDigest);
    // One replay dataset keeps the encoding (and the draws) it had before several were possible.
    const one = assignSamples({ ...req, replay: { dataset: a, fraction: 0.25 } }, c);
    assert.deepEqual(assignSamples({ ...req, replay: { dataset: [a], fraction: 0.25 } }, c), one);
    assert.ok(one.samples.every((s) => s.from === undefined));
    assert.throws(() => assignmentBatches(x, c, 8, 8, [a]), /replay dataset 1, not given/);
  });
});
