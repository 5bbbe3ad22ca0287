import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ConfigError,
  type RunConfigInput,
  innerLrSchedule,
  prefixHashes,
  runConfigHash,
  runConfigSchema,
  runLrSchedule,
  stageAt,
  truncateStages,
} from "../../node/config/index.ts";

const A = "a".repeat(64);
const B = "b".repeat(64);
const C = "c".repeat(64);

function parse(input: RunConfigInput) {
  const res = runConfigSchema.safeParse(input);
  if (!res.success) throw ConfigError.fromZod(res.error, "runConfig");
  return res.data;
}

const staged = (extra: Partial<RunConfigInput> = {}) =>
  parse({
    runId: "stages",
    train: { innerSteps: 4, peakLr: 1e-3, warmupSteps: 8, totalSteps: 100, minLrRatio: 0.1 },
    dataset: { manifestHash: A },
    data: {
      stages: [
        { dataset: A, startRound: 0, schedule: { kind: "continue" }, replay: 0 },
        {
          dataset: B,
          startRound: 10,
          schedule: { kind: "rewarm", peakLr: 2e-3, warmupSteps: 4, totalSteps: 40, minLrRatio: 0.1 },
          replay: 0.05,
        },
        { dataset: C, startRound: 20, schedule: { kind: "continue" }, replay: 0.1 },
      ],
    },
    ...extra,
  });

describe("run config data stages", () => {
  it("a config without stages hashes exactly as before stages existed (pinned)", () => {
    assert.equal(
      runConfigHash(parse({ runId: "x" })),
      "0x6929d49496bdeecf77e409f2e9e9bc044f0ffa68fe6471d088d86f493c62ef10",
    );
    assert.equal(
      runConfigHash(parse({ runId: "cotrain-e2e", dataset: { manifestHash: A }, train: { innerSteps: 4 } })),
      "0x8ae10357e0b07aae47209f9fa39f418098382c4b729905833d82bf9672577bd3",
    );
  });

  it("names the field of a bad stage list in one line", () => {
    const bad = (stages: unknown[], field: RegExp) =>
      assert.throws(
        () => parse({ runId: "x", data: { stages } as never }),
        (e: Error) => {
          assert.ok(e instanceof ConfigError);
          assert.match(e.message, field);
          return true;
        },
      );
    const s = (startRound: number, replay = 0) => ({ dataset: A, startRound, schedule: { kind: "continue" }, replay });
    bad([s(0), s(5), s(5)], /^runConfig\.data\.stages\.2\.startRound: stages out of order$/);
    bad([s(0), s(7), s(3)], /^runConfig\.data\.stages\.2\.startRound: stages out of order$/);
    bad([s(1)], /^runConfig\.data\.stages\.0\.startRound: the first stage must start at round 0$/);
    bad([s(0, 1.5)], /^runConfig\.data\.stages\.0\.replay: /);
    bad([s(0, -0.1)], /^runConfig\.data\.stages\.0\.replay: /);
    bad([{ ...s(0), dataset: "xyz" }], /^runConfig\.data\.stages\.0\.dataset: 64 lowercase hex characters$/);
    bad([{ ...s(0), schedule: { kind: "cosine" } }], /^runConfig\.data\.stages\.0\.schedule\.kind: /);
    bad([{ ...s(0), extra: 1 }], /^runConfig\.data\.stages\.0: Unrecognized key/);
    bad([], /^runConfig\.data\.stages: /);
    bad(
      [{ ...s(0), schedule: { kind: "rewarm", peakLr: 1e-3, warmupSteps: 10, totalSteps: 5, minLrRatio: 0 } }],
      /^runConfig\.data\.stages\.0\.schedule\.totalSteps: must be at least warmupSteps$/,
    );
    assert.throws(
      () => parse({ runId: "x", dataset: { manifestHash: B }, data: { stages: [s(0)] } as never }),
      /^ConfigError: runConfig\.data\.stages\.0\.dataset: differs from dataset\.manifestHash b+$|runConfig\.data\.stages\.0\.dataset: differs/,
    );
  });

  it("the stage in effect is the last started one; a config without stages is one stage", () => {
    const run = staged();
    assert.deepEqual(
      [0, 9, 10, 19, 20, 1000].map((r) => stageAt(run, r).index),
      [0, 0, 1, 1, 2, 2],
    );
    assert.equal(stageAt(run, 12).dataset, B);
    assert.equal(stageAt(run, 12).replay, 0.05);
    const legacy = parse({ runId: "x", dataset: { manifestHash: A } });
    assert.deepEqual(stageAt(legacy, 77), {
      index: 0,
      dataset: A,
      startRound: 0,
      schedule: { kind: "continue" },
      replay: 0,
    });
  });

  it("the lr: stage 1 the train curve, a rewarm from its start, continue keeps the previous curve", () => {
    const run = staged();
    const lr = runLrSchedule(run);
    const base = innerLrSchedule(run.train);
    for (const s of [0, 7, 8, 39]) assert.equal(lr(s), base(s));
    assert.equal(lr(40), 2e-3 / 4); // round 10 × H 4: warmup step 0 of 4 toward 2e-3
    assert.equal(lr(43), 2e-3);
    assert.ok(Math.abs(lr(80) - 2e-3 * 0.1) < 1e-15); // 40 steps after the stage start: at the floor
    assert.equal(lr(80), lr(120)); // stage 3 "continue": the rewarm curve, still at its floor
    const noStages = parse({ runId: "x" });
    const b = innerLrSchedule(noStages.train);
    const l = runLrSchedule(noStages);
    for (const s of [0, 5, 19, 20, 1000, 30_000]) assert.equal(l(s), b(s));
    const muon = runLrSchedule(noStages, "muon");
    assert.equal(muon(25), innerLrSchedule({ ...noStages.train, peakLr: noStages.train.muonPeakLr })(25));
    assert.ok(Math.abs(runLrSchedule(run, "muon")(43) - (2e-3 * run.train.muonPeakLr) / run.train.peakLr) < 1e-15);
  });

  it("the infinite stage: warmup, cooldown, constant, then the anneal from its round", () => {
    const run = parse({
      runId: "inf",
      train: { innerSteps: 2 },
      data: {
        stages: [
          {
            dataset: A,
            startRound: 0,
            schedule: {
              kind: "infinite",
              peakLr: 1e-3,
              warmupSteps: 2,
              cooldownSteps: 2,
              constantRatio: 0.5,
              annealStartRound: 5,
              annealSteps: 4,
              minLrRatio: 0,
            },
            replay: 0,
          },
        ],
      },
    });
    const lr = runLrSchedule(run);
    assert.equal(lr(1), 1e-3);
    assert.equal(lr(4), 5e-4);
    assert.equal(lr(9), 5e-4);
    assert.equal(lr(12), 2.5e-4);
    assert.equal(lr(14), 0);
    assert.throws(
      () =>
        parse({
          runId: "inf",
          train: { innerSteps: 2 },
          data: {
            stages: [
              {
                dataset: A,
                startRound: 0,
                schedule: {
                  kind: "infinite",
                  peakLr: 1e-3,
                  warmupSteps: 2,
                  cooldownSteps: 2,
                  constantRatio: 0.5,
                  annealStartRound: 1,
                  annealSteps: 4,
                  minLrRatio: 0,
                },
                replay: 0,
              },
            ],
          },
        }),
      /runConfig\.data\.stages\.0\.schedule\.annealStartRound: the anneal must start after/,
    );
  });

  it("truncation gives the earlier configs; a legacy-equivalent first stage also matches the config without stages", () => {
    const run = staged();
    const p = prefixHashes(run);
    assert.equal(p.length, 3);
    assert.equal(p[2][0], runConfigHash(run));
    assert.equal(p[1][0], runConfigHash(truncateStages(run, 2)));
    const legacy = parse({
      runId: "stages",
      train: { innerSteps: 4, peakLr: 1e-3, warmupSteps: 8, totalSteps: 100, minLrRatio: 0.1 },
      dataset: { manifestHash: A },
    });
    assert.deepEqual(p[0].slice(1), [runConfigHash(legacy)]);
    assert.notEqual(p[0][0], runConfigHash(legacy));
    assert.throws(() => truncateStages(run, 0), RangeError);
    assert.throws(() => truncateStages(run, 4), RangeError);
  });
});
