import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parseDeployParams } from "../../node/chain/index.ts";
import { testnetOptionsFromFlags } from "../../node/cli/commands/testnet.ts";
import { runConfigSchema } from "../../node/config/index.ts";
import {
  LogTail,
  defaultTestnetOptions,
  freePortOr,
  spawnNode,
  testnetDeployParams,
  testnetRunConfig,
} from "../../node/testnet/index.ts";

const dir = mkdtempSync(join(tmpdir(), "cotrain-testnet-unit-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const flags = {
  dataDir: ".data/testnet",
  datasetDir: ".data/datasets/brown",
  peers: "3",
  validators: "1",
  preset: "micro",
  backend: "auto",
  rounds: "0",
  anvilPort: "8545",
  explorerPort: "8080",
  logLevel: "info",
};

describe("cotrain testnet settings", () => {
  it("micro uses the defaults; nano switches to short rounds; explicit flags win", () => {
    const micro = { ...defaultTestnetOptions, ...testnetOptionsFromFlags(flags) };
    assert.equal(micro.roundSeconds, 30);
    assert.equal(micro.innerSteps, 64);
    const nano = { ...defaultTestnetOptions, ...testnetOptionsFromFlags({ ...flags, preset: "nano" }) };
    assert.equal(nano.roundSeconds, 12);
    const custom = testnetOptionsFromFlags({
      ...flags,
      preset: "nano",
      roundSeconds: "20",
      innerSteps: "3",
      batchSize: "2",
    });
    assert.deepEqual([custom.roundSeconds, custom.innerSteps, custom.batchSize], [20, 3, 2]);
    assert.throws(() => testnetOptionsFromFlags({ ...flags, rounds: "-1" }), /invalid configuration: rounds:/);
    assert.throws(
      () => testnetOptionsFromFlags({ ...flags, roundSeconds: "2" }),
      /invalid configuration: roundSeconds:/,
    );
  });

  it("derived contract parameters and run config are valid for every round length the CLI accepts", () => {
    for (const roundSeconds of [4, 12, 30, 600]) {
      const o = { ...defaultTestnetOptions, roundSeconds };
      const p = parseDeployParams(testnetDeployParams(o));
      assert.ok(p.submissionSeconds < p.roundSeconds && p.scoringSeconds <= p.roundSeconds, `R=${roundSeconds}`);
      assert.equal(runConfigSchema.parse(testnetRunConfig(o)).model.preset, "micro");
    }
  });

  it("--stage-at runs two data stages: Brown, then the second corpus from that round", () => {
    const o = { ...defaultTestnetOptions, ...testnetOptionsFromFlags({ ...flags, preset: "nano", stageAt: "5" }) };
    const run = runConfigSchema.parse(testnetRunConfig(o, { brown: "a".repeat(64), second: "b".repeat(64) }));
    assert.deepEqual(
      run.data?.stages.map((s) => [s.dataset[0], s.startRound, s.schedule.kind, s.replay]),
      [
        ["a", 0, "continue", 0],
        ["b", 5, "rewarm", 0.05],
      ],
    );
    assert.equal(runConfigSchema.parse(testnetRunConfig({ ...o, stageAt: 0 })).data, undefined);
    assert.throws(() => testnetOptionsFromFlags({ ...flags, stageAt: "0" }), /stageAt: expected an integer >= 1/);
  });

  it("freePortOr keeps a free port and falls back to 0 when it is taken", async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    const taken = (srv.address() as { port: number }).port;
    try {
      assert.equal(await freePortOr(taken), 0);
    } finally {
      await new Promise((r) => srv.close(r));
    }
    assert.equal(await freePortOr(taken), taken);
    assert.equal(await freePortOr(0), 0);
  });
});

describe("LogTail", () => {
  it("returns only new lines, holds a partial last line until it is complete, skips non-JSON", () => {
    const f = join(dir, "node.log");
    const tail = new LogTail(f);
    assert.deepEqual(tail.poll(), []); // no file yet
    writeFileSync(f, '{"msg":"a","round":0}\nnot json\n{"msg":"b",');
    assert.deepEqual(
      tail.poll().map((l) => l.msg),
      ["a"],
    );
    appendFileSync(f, '"round":1}\n');
    assert.deepEqual(tail.poll(), [{ msg: "b", round: 1 }]);
    assert.deepEqual(tail.poll(), []);
    const late = new LogTail(f);
    late.skipExisting();
    appendFileSync(f, '{"msg":"c"}\n');
    assert.deepEqual(
      late.poll().map((l) => l.msg),
      ["c"],
    );
  });
});

describe("testnet launcher", () => {
  it("does not pass the launcher's COTRAIN_* settings to the nodes it starts (only COTRAIN_PASSWORD)", async () => {
    const entry = join(dir, "print-env.mjs");
    writeFileSync(
      entry,
      "console.log(JSON.stringify(Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('COTRAIN_')))));\n",
    );
    const saved = { ...process.env };
    process.env.COTRAIN_DATA_DIR = "/elsewhere";
    process.env.COTRAIN_RPC = "http://127.0.0.1:1";
    process.env.COTRAIN_PASSWORD = "pw";
    try {
      const node = spawnNode("env-probe", "validator", join(dir, "unused.json"), dir, { entry });
      assert.equal(await node.exited, 0);
      // the child's stdout reaches its log file through a pipe and a write stream, after it exits
      const until = Date.now() + 5000;
      while (!readFileSync(node.logFile, "utf8").includes("}") && Date.now() < until)
        await new Promise((r) => setTimeout(r, 50));
      const printed = JSON.parse(readFileSync(node.logFile, "utf8").trim().split("\n").at(-1) ?? "{}");
      assert.deepEqual(printed, { COTRAIN_PASSWORD: "pw" });
    } finally {
      for (const k of ["COTRAIN_DATA_DIR", "COTRAIN_RPC", "COTRAIN_PASSWORD"]) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });
});
