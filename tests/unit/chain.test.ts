import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { JsonRpcProvider, Wallet, parseEther, toQuantity } from "ethers";
import {
  type AnvilInstance,
  type ChainEvent,
  ChainError,
  EventIndexer,
  RoundClock,
  TrainingRunClient,
  createProvider,
  deployTrainingRun,
  loadArtifact,
  memoryCursor,
  payloadRoot,
  startAnvil,
} from "../../node/chain/index.ts";

/** The typed client and the indexer against a real anvil (instamine; time moved with evm_* calls). */
describe("chain client + indexer on anvil", () => {
  let anvil: AnvilInstance;
  let provider: JsonRpcProvider;
  let address: string;
  let deployBlock: number;
  let clients: TrainingRunClient[];
  let clock: RoundClock;
  const HASH = `0x${"5a".repeat(32)}`;

  const setTime = async (t: number) => {
    await provider.send("evm_setNextBlockTimestamp", [t]);
    await provider.send("evm_mine", []);
  };

  before(async () => {
    anvil = await startAnvil({ accounts: 6 });
    provider = createProvider(anvil.rpcUrl, { pollingIntervalMs: 50 });
    const deployer = new Wallet(anvil.accounts[0], provider);
    const dep = await deployTrainingRun(deployer, {
      genesisDelaySeconds: 10,
      roundSeconds: 4,
      submissionSeconds: 1,
      scoringSeconds: 2,
      unstakeDelay: 12,
      gatherSize: 2,
      rewardPerRound: "10",
      minStake: "1",
    });
    assert.equal(dep.chainId, 31337);
    address = dep.address;
    deployBlock = dep.block;
    clients = anvil.accounts.map((k) => new TrainingRunClient({ address }, { runner: new Wallet(k, provider) }));
    const p = await clients[0].runParams();
    clock = new RoundClock(p, { provider });
  });

  after(async () => {
    provider?.destroy();
    await anvil?.stop();
  });

  it("reads the deployed parameters and resolves the token", async () => {
    const p = await clients[0].runParams();
    assert.equal(p.roundSeconds, 4);
    assert.equal(p.rewardPerRound, parseEther("10"));
    assert.match(await clients[0].rewardToken(), /^0x[0-9a-fA-F]{40}$/);
  });

  it("registers peers and stakes validators", async () => {
    const r1 = await clients[1].registerPeer("/ip4/127.0.0.1/tcp/1");
    const r2 = await clients[2].registerPeer(undefined, { bondWei: parseEther("0.1") });
    assert.deepEqual([r1.index, r2.index], [0, 1]);
    assert.ok(r1.gasUsed > 0n);
    const me = new Wallet(anvil.accounts[2]).address;
    assert.equal(await clients[0].peerIndex(me), 1);
    assert.equal(await clients[0].peerIndex(new Wallet(anvil.accounts[5]).address), null);
    assert.equal(await clients[0].peerCount(), 2);
    assert.deepEqual(await clients[0].peers(), [new Wallet(anvil.accounts[1]).address, me]);
    await clients[3].stake(parseEther("1"));
    await clients[4].stake(parseEther("2"));
    assert.deepEqual(await clients[0].activeValidators(), { count: 2, totalStake: parseEther("3") });
    assert.equal(await clients[0].isValidator(new Wallet(anvil.accounts[4]).address), true);
  });

  it("turns a revert into ChainError CONTRACT_REVERT with the custom error", async () => {
    await assert.rejects(clients[1].registerPeer(), (err: unknown) => {
      assert.ok(err instanceof ChainError);
      assert.equal(err.code, "CONTRACT_REVERT");
      assert.equal(err.revert?.name, "TrainingRunPeerAlreadyRegistered");
      return true;
    });
  });

  it("round clock follows chain time through the phases", async () => {
    const { genesis } = clock.timing;
    await setTime(genesis + 4 * 0 + 2); // round 0, training
    await clock.sync();
    let ph = clock.phase();
    assert.equal(ph.round, 0);
    assert.equal(ph.phase, "training");
    assert.equal(await clients[0].currentRound(), 0);
    await setTime(genesis + 4 + 0); // round 1, submission phase of round 0
    await clock.sync();
    ph = clock.phase();
    assert.deepEqual([ph.round, ph.phase, ph.scoringRound], [1, "submission", null]);
    assert.ok(ph.secondsToNextBoundary > 0 && ph.secondsToNextBoundary <= 1.5);
    assert.deepEqual(clock.scoringWindow(0), await clients[0].scoringWindow(0));
  });

  it("submits scores, finalizes early, claims; indexer delivers everything once and resumes", async () => {
    const cursor = memoryCursor();
    const seen: ChainEvent[] = [];
    const indexer = new EventIndexer(
      { fromBlock: deployBlock, batchSize: 3 },
      { contract: clients[0].contract, provider, cursor, onEvent: (e) => void seen.push(e) },
    );
    const before = await indexer.syncOnce();
    assert.equal(before, 4); // 2 × PeerRegistered, 2 × ValidatorStaked
    assert.equal(cursor.value, await provider.getBlockNumber());

    const { opensAt } = clock.scoringWindow(0);
    await setTime(opensAt);
    const payloads = [
      { index: 1, hash: "11".repeat(32) },
      { index: 0, hash: `0x${"22".repeat(32)}` },
    ];
    await clients[3].submitScores({
      round: 0,
      modelHash: HASH,
      payloads,
      scores: [300, 100],
      components: [
        [1, -2],
        [3, 4],
      ],
    });
    const v3 = new Wallet(anvil.accounts[3]).address;
    assert.equal(await clients[0].hasSubmitted(0, v3), true);
    await assert.rejects(
      clients[3].submitScores({ round: 0, modelHash: HASH, payloads: [], scores: [] }),
      (e: unknown) => e instanceof ChainError && e.revert?.name === "TrainingRunAlreadySubmitted",
    );
    await clients[4].submitScores({ round: 0, modelHash: HASH, payloads, scores: [200, 100] });
    assert.deepEqual(await clients[0].roundSnapshot(0), { validators: 2, totalStake: parseEther("3") });
    // anyone; early: both snapshot validators submitted; pages of 2 slots: medians, rewards, close
    const fin0 = await clients[5].finalizeRound(0, { pageSize: 2 });
    assert.deepEqual([fin0.steps.length, fin0.skipped], [3, false]);
    assert.equal(await clients[0].roundStatus(0), "finalized");
    assert.equal(await clients[0].modelHashOf(0), HASH);
    assert.equal(await clients[0].payloadRootOf(0), payloadRoot(payloads));
    assert.equal(await clients[0].modelHashOf(1), null);
    assert.equal(await clients[0].lastFinalizedRound(), 0);
    assert.deepEqual(await clients[0].lastGatherSet(), { round: 0, members: [0, 1] });

    await clients[3].recordCheckpoint(0, HASH, "cotrain://blob/abc");
    assert.deepEqual(await clients[0].latestCheckpoint(), { round: 0, modelHash: HASH });

    const peer0 = new Wallet(anvil.accounts[1]).address;
    const owed = await clients[0].pendingRewards(peer0);
    assert.ok(owed > 0n);
    const { amount } = await clients[1].claim();
    assert.equal(amount, owed);
    assert.equal(await clients[0].tokenBalance(peer0), owed);

    const delivered = await indexer.syncOnce();
    const names = seen.slice(before).map((e) => e.name);
    assert.equal(delivered, names.length);
    assert.deepEqual(names, [
      "ScoresSubmitted",
      "ScoresSubmitted",
      "PeerRewarded",
      "PeerRewarded",
      "ValidatorRewarded",
      "ValidatorRewarded",
      "RoundFinalized",
      "CheckpointRecorded",
      "Claimed",
    ]);
    const fin = seen.find((e) => e.name === "RoundFinalized");
    assert.ok(fin?.name === "RoundFinalized");
    assert.equal(fin.args.modelHash, HASH);
    assert.equal(fin.args.payloadRoot, payloadRoot(payloads));
    assert.deepEqual(fin.args.included, [0, 1]);
    assert.equal(fin.args.totals.submissions, 2);
    const sub = seen.find((e) => e.name === "ScoresSubmitted");
    assert.ok(sub?.name === "ScoresSubmitted");
    // The typed decoder: the payload list sorted by index, hashes as sha256 hex without 0x.
    assert.deepEqual(sub.args.payloads, [
      { index: 0, hash: "22".repeat(32) },
      { index: 1, hash: "11".repeat(32) },
    ]);
    assert.deepEqual(sub.args.components, [
      [1, -2],
      [3, 4],
    ]);
    // Chain order is preserved.
    for (let i = 1; i < seen.length; i++) {
      const [a, b] = [seen[i - 1], seen[i]];
      assert.ok(a.blockNumber < b.blockNumber || (a.blockNumber === b.blockNumber && a.logIndex < b.logIndex));
    }
    // A new indexer on the same cursor resumes: nothing old is delivered again.
    const again: ChainEvent[] = [];
    const resumed = new EventIndexer(
      { fromBlock: deployBlock },
      { contract: clients[0].contract, provider, cursor, onEvent: (e) => void again.push(e) },
    );
    assert.equal(await resumed.syncOnce(), 0);
    await clients[4].requestUnstake();
    resumed.start();
    const deadline = Date.now() + 5000;
    while (again.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await resumed.stop();
    assert.deepEqual(
      again.map((e) => e.name),
      ["UnstakeRequested"],
    );
  });

  it("a transaction that ran out of gas (the state moved after its estimate) is estimated again and resent", async () => {
    // On a chain with a block time, a transaction estimated against the latest block can land after
    // others that change its cost (seen: a registration before a finalize step). The provider here
    // halves the first eth_estimateGas answer so the first finalize step really runs out of gas.
    class ShortFirstEstimate extends JsonRpcProvider {
      short = 1;
      override async send(method: string, params: unknown[] | Record<string, unknown>): Promise<unknown> {
        const r = await super.send(method, params);
        if (method !== "eth_estimateGas" || this.short === 0) return r;
        this.short--;
        return toQuantity(BigInt(r as string) / 2n);
      }
    }
    const short = new ShortFirstEstimate(anvil.rpcUrl, undefined, { cacheTimeout: -1, pollingInterval: 50 });
    const dep = await deployTrainingRun(new Wallet(anvil.accounts[0], provider), {
      genesisDelaySeconds: 10,
      roundSeconds: 4,
      submissionSeconds: 1,
      scoringSeconds: 2,
      unstakeDelay: 12,
      peerBond: "0",
    });
    const v = new TrainingRunClient({ address: dep.address }, { runner: new Wallet(anvil.accounts[3], provider) });
    const shortV = new TrainingRunClient({ address: dep.address }, { runner: new Wallet(anvil.accounts[3], short) });
    await new TrainingRunClient(
      { address: dep.address },
      { runner: new Wallet(anvil.accounts[1], provider) },
    ).registerPeer();
    await v.stake(parseEther("1"));
    await setTime((await v.scoringWindow(0)).opensAt);
    await v.submitScores({ round: 0, modelHash: HASH, payloads: [], scores: [100] });
    const before = await provider.getBlockNumber();
    try {
      const step = await shortV.finalizeRoundStep(0);
      assert.equal(step.done, true);
    } finally {
      short.destroy();
    }
    assert.equal(await v.roundStatus(0), "finalized");
    const outcomes: string[] = [];
    for (let b = before + 1; b <= (await provider.getBlockNumber()); b++) {
      for (const h of (await provider.getBlock(b))?.transactions ?? []) {
        const [tx, rc] = await Promise.all([provider.getTransaction(h), provider.getTransactionReceipt(h)]);
        outcomes.push(rc?.status === 1 ? "ok" : rc?.gasUsed === tx?.gasLimit ? "out of gas" : "reverted");
      }
    }
    assert.deepEqual(outcomes, ["out of gas", "ok"]);
  });

  it("startAnvil refuses a port that is already taken; stop() is idempotent", async () => {
    const port = Number(new URL(anvil.rpcUrl).port);
    await assert.rejects(
      startAnvil({ port }),
      (e: unknown) => e instanceof ChainError && e.code === "ANVIL_START_FAILED",
    );
    const other = await startAnvil({ accounts: 1 });
    assert.notEqual(other.rpcUrl, anvil.rpcUrl);
    await other.stop();
    await other.stop();
    assert.equal(
      await fetch(other.rpcUrl, { method: "POST" }).then(
        () => "up",
        () => "down",
      ),
      "down",
    );
  });

  it("a missing artifact is a clear ChainError", () => {
    assert.throws(
      () => loadArtifact("TrainingRun", "/nonexistent/TrainingRun.json"),
      (e: unknown) => e instanceof ChainError && e.code === "ARTIFACT_MISSING" && /npx hardhat compile/.test(e.message),
    );
  });

  it("every contract function the client wraps exists in the compiled ABI", () => {
    const abi = loadArtifact("TrainingRun").abi as { type: string; name?: string }[];
    const fns = new Set(abi.filter((f) => f.type === "function").map((f) => f.name));
    const proto = Object.getOwnPropertyNames(TrainingRunClient.prototype).filter(
      (n) =>
        ![
          "constructor",
          "provider",
          "view",
          "sendResult",
          "send",
          "call",
          "waitForTx",
          "withRetries",
          "mapError",
          "findEvent",
          "tokenBalance",
          "finalizeRound", // the client's paging loop over finalizeRoundStep
          "estimateGas", // a dry run of any of the others
          "configTimeline", // configCount + configAt for every entry
          "signerAddress",
        ].includes(n),
    );
    for (const name of proto) assert.ok(fns.has(name), `ABI lacks ${name}`);
  });
});
