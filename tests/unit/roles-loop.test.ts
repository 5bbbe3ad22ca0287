import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { pino } from "pino";
import { ChainError, isHarmlessRace } from "../../node/chain/index.ts";
import { RoleError } from "../../node/roles/errors.ts";
import { runRounds } from "../../node/roles/loop.ts";

const revert = (name: string, ...args: unknown[]) =>
  new ChainError("CONTRACT_REVERT", `x reverted: ${name}(${args.join(", ")})`, { name, args });

describe("round loop: harmless races are info, failures are errors", () => {
  it("classifies the contract's 'someone else did it' reverts", () => {
    assert.equal(isHarmlessRace(revert("TrainingRunRoundAlreadyFinalized", 3n)), true);
    assert.equal(isHarmlessRace(revert("TrainingRunCheckpointNotNewer", 2n, 4n)), true);
    assert.equal(isHarmlessRace(revert("TrainingRunAlreadySubmitted", 3n, "0x1")), true);
    assert.equal(isHarmlessRace(revert("TrainingRunScoringWindowClosed", 3n, 9n)), false);
    assert.equal(isHarmlessRace(new ChainError("TX_FAILED", "finalizeRoundStep failed: timeout")), false);
    assert.equal(isHarmlessRace(new Error("TrainingRunRoundAlreadyFinalized")), false);
  });

  it("logs a lost finalize race at info and a real failure at error, and keeps going", async () => {
    const lines: { level: number; msg: string; err: string }[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(JSON.parse(String(chunk)));
        cb();
      },
    });
    const stop = new AbortController();
    const errors = [revert("TrainingRunRoundAlreadyFinalized", 7n), new ChainError("TX_FAILED", "rpc down")];
    let calls = 0;
    await runRounds({ logger: pino(sink), retryDelayMs: 1 }, stop.signal, async () => {
      calls++;
      const e = errors.shift();
      if (e) throw e;
      stop.abort();
    });
    assert.equal(calls, 3);
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg]),
      [
        [30, "lost a harmless race; retrying"],
        [50, "round failed; retrying"],
      ],
    );
    assert.match(lines[0].err, /TrainingRunRoundAlreadyFinalized\(7\)/);
  });

  it("ends with the error when no retry can fix it (a config the chain put in force that the file lacks)", async () => {
    let calls = 0;
    const unknown = new RoleError(
      "CONFIG_UNKNOWN",
      "the contract's config for rounds from 6 is 0x… which run.json does not cover",
    );
    await assert.rejects(
      runRounds({ logger: pino({ level: "silent" }), retryDelayMs: 1 }, new AbortController().signal, async () => {
        calls++;
        throw unknown;
      }),
      (e) => e === unknown,
    );
    assert.equal(calls, 1);
  });
});
