import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeComponents, decodeRoundComponents, encodeComponents } from "../../node/chain/index.ts";
import { ExplorerModel, type IndexedEvent } from "../../node/explorer/index.ts";
import { encodeChainComponents, encodeStageHeldOut } from "../../node/scoring/chain-components.ts";

const VALIDATORS = ["0x00000000000000000000000000000000000000a1", "0x00000000000000000000000000000000000000a2"];
const HASH = `0x${"ab".repeat(32)}`;

/**
 * The explorer's read model on ScoresSubmitted events whose components went through the chain's byte
 * layout (node/chain/encoding.ts): per-stage held-out losses (issue 17) become per-stage series in the
 * API, the median over validators; submissions without them (one-stage runs, older validators) add none.
 */
describe("explorer model: held-out loss per stage", () => {
  let block = 1;
  const submitted = (round: number, validator: string, loss: number, stages?: (number | null)[]): IndexedEvent => {
    const bytes = encodeComponents(
      [encodeChainComponents({ heldOutLossBefore: loss })],
      stages ? encodeStageHeldOut(stages) : [],
    );
    return {
      name: "ScoresSubmitted",
      args: {
        round,
        validator,
        modelHash: HASH,
        payloadRoot: HASH,
        weight: 1n,
        payloads: [],
        scores: [1],
        components: decodeComponents(bytes),
        roundComponents: decodeRoundComponents(bytes),
      },
      blockNumber: block++,
      logIndex: 0,
      transactionHash: HASH,
      timestamp: 1000 + round,
    };
  };
  const finalized = (round: number): IndexedEvent => ({
    name: "RoundFinalized",
    args: {
      round,
      modelHash: HASH,
      payloadRoot: HASH,
      medians: [1],
      included: [],
      gatherSet: [],
      totals: {
        submissions: 2,
        scoredPeers: 1,
        snapshotWeight: 2n,
        submittedWeight: 2n,
        agreeingWeight: 2n,
        scoreSum: 1n,
        peerRewards: 0n,
        validatorRewards: 0n,
      },
    },
    blockNumber: block++,
    logIndex: 0,
    transactionHash: HASH,
    timestamp: 1100 + round,
  });

  it("charts every stage's median held-out loss per round; rounds without per-stage losses have none", async () => {
    const m = new ExplorerModel();
    // round 0: one stage, per-peer-only components (as before issue 17)
    m.apply(submitted(0, VALIDATORS[0], 5.5));
    m.apply(submitted(0, VALIDATORS[1], 5.5));
    m.apply(finalized(0));
    // round 1: stage 1 began; validator 2 ran out of time for stage 0 (null); medians per stage
    m.apply(submitted(1, VALIDATORS[0], 5.25, [4.5, 5.25]));
    m.apply(submitted(1, VALIDATORS[1], 5.375, [null, 5.375]));
    m.apply(finalized(1));
    // round 2: the earlier stage's loss rises (forgetting)
    m.apply(submitted(2, VALIDATORS[0], 5.0, [4.75, 5.0]));
    m.apply(submitted(2, VALIDATORS[1], 5.0, [4.875, 5.0]));
    m.apply(finalized(2));

    const { series } = m.summary();
    assert.deepEqual(
      series.map((s) => s.heldOutLossByStage),
      [[], [4.5, 5.3125], [4.8125, 5]],
    );
    assert.deepEqual(
      series.map((s) => s.heldOutLoss),
      [5.5, 5.3125, 5],
    );
    const rounds = m.listRounds();
    assert.deepEqual(rounds[0].heldOutLossByStage, [4.8125, 5]);
    const r1 = await m.getRound(1);
    assert.deepEqual(r1?.heldOutLossByStage, [4.5, 5.3125]);
    assert.deepEqual(
      r1?.submissions.map((s) => s.stageHeldOut),
      [
        [4.5, 5.25],
        [null, 5.375],
      ],
    );
  });

  it("a hostile validator's negative per-stage loss is not counted in the median", () => {
    const m = new ExplorerModel();
    const bytes = encodeComponents([encodeChainComponents({ heldOutLossBefore: 5 })], [-7, 5000]);
    const ev = submitted(0, VALIDATORS[0], 5);
    assert.equal(ev.name, "ScoresSubmitted");
    if (ev.name === "ScoresSubmitted") ev.args.roundComponents = decodeRoundComponents(bytes);
    m.apply(ev);
    m.apply(submitted(0, VALIDATORS[1], 5, [4, 5]));
    m.apply(finalized(0));
    assert.deepEqual(m.summary().series[0].heldOutLossByStage, [4, 5]);
  });
});
