import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type JsonRpcProvider, Wallet, parseEther } from "ethers";
import pino from "pino";
import {
  type AnvilInstance,
  TrainingRunClient,
  createProvider,
  deployTrainingRun,
  payloadRoot,
  startAnvil,
} from "../../node/chain/index.ts";
import { ChainView } from "../../node/roles/chain-view.ts";

/** ChainView over real events: a skipped round is kept apart; a finalized one carries its payload list. */
describe("ChainView on anvil", () => {
  let anvil: AnvilInstance;
  let provider: JsonRpcProvider;

  before(async () => {
    anvil = await startAnvil({ accounts: 5 });
    provider = createProvider(anvil.rpcUrl, { pollingIntervalMs: 50 });
  });
  after(async () => {
    provider?.destroy();
    await anvil?.stop();
  });

  it("skipped rounds are settled but not finalized; finalized rounds expose the canonical payload list", async () => {
    const dep = await deployTrainingRun(new Wallet(anvil.accounts[0], provider), {
      genesisDelaySeconds: 10,
      roundSeconds: 10,
      submissionSeconds: 1,
      scoringSeconds: 5,
      unstakeDelay: 30,
      peerBond: "0",
    });
    const c = anvil.accounts.map(
      (k) => new TrainingRunClient({ address: dep.address }, { runner: new Wallet(k, provider) }),
    );
    await c[1].registerPeer("a");
    await c[2].registerPeer("b");
    await c[3].stake(parseEther("1"));
    await c[4].stake(parseEther("3"));
    const view = new ChainView(
      { fromBlock: dep.block, pollMs: 60_000 },
      { client: c[0], provider, logger: pino({ level: "silent" }) },
    );
    await view.start();
    try {
      const setTime = async (t: number) => {
        await provider.send("evm_setNextBlockTimestamp", [t]);
        await provider.send("evm_mine", []);
      };
      const payloads = [
        { index: 1, hash: "bb".repeat(32) },
        { index: 0, hash: "aa".repeat(32) },
      ];
      // Round 0: only the 1-ether validator submits: no quorum, skipped.
      const w0 = await c[0].scoringWindow(0);
      await setTime(w0.opensAt);
      await c[3].submitScores({ round: 0, modelHash: `0x${"11".repeat(32)}`, payloads, scores: [5, 5] });
      await setTime(w0.closesAt);
      assert.equal((await c[0].finalizeRound(0)).skipped, true);
      // Round 1: both agree.
      const w1 = await c[0].scoringWindow(1);
      await setTime(w1.opensAt);
      for (const v of [c[3], c[4]])
        await v.submitScores({ round: 1, modelHash: `0x${"22".repeat(32)}`, payloads, scores: [7, 9] });
      assert.equal((await c[0].finalizeRound(1)).skipped, false);
      await view.sync();
      assert.deepEqual([view.skipped.has(0), view.finalized.has(0), view.isSettled(0)], [true, false, true]);
      assert.equal(view.gatherSetFor(1), null); // a skipped round sets no gather set
      const f = view.finalized.get(1);
      assert.ok(f);
      assert.equal(f.modelHash, "22".repeat(32));
      assert.equal(f.payloadRoot, payloadRoot(payloads));
      assert.deepEqual(f.payloads, [
        { index: 0, hash: "aa".repeat(32) },
        { index: 1, hash: "bb".repeat(32) },
      ]);
      assert.deepEqual(f.included, [0, 1]);
      assert.equal(view.lastFinalized()?.round, 1);
    } finally {
      await view.stop();
    }
  });
});
