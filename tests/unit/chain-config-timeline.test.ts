import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type JsonRpcProvider, Wallet } from "ethers";
import {
  type AnvilInstance,
  ChainError,
  type ChainEvent,
  EventIndexer,
  TrainingRunClient,
  createProvider,
  deployTrainingRun,
  memoryCursor,
  startAnvil,
} from "../../node/chain/index.ts";

/** The config timeline through the typed client, its typed errors and the event decoder, on a real anvil. */
describe("chain client: config timeline on anvil", () => {
  let anvil: AnvilInstance;
  let provider: JsonRpcProvider;
  let operator: TrainingRunClient;
  let other: TrainingRunClient;
  let genesis: number;
  let deployBlock: number;
  const HASH_0 = `0x${"0a".repeat(32)}`;
  const HASH_1 = `0x${"1B".repeat(32)}`; // mixed case in, lowercase out
  const HASH_2 = `0x${"2c".repeat(32)}`;
  const ROUND = 10;

  const setTime = async (t: number) => {
    await provider.send("evm_setNextBlockTimestamp", [t]);
    await provider.send("evm_mine", []);
  };
  const code = async (p: Promise<unknown>, want: string, message: RegExp) =>
    assert.rejects(p, (err: unknown) => {
      assert.ok(err instanceof ChainError, String(err));
      assert.equal(err.code, want, err.message);
      assert.match(err.message, message);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });

  before(async () => {
    anvil = await startAnvil({ accounts: 2 });
    provider = createProvider(anvil.rpcUrl, { pollingIntervalMs: 50 });
    const dep = await deployTrainingRun(new Wallet(anvil.accounts[0], provider), {
      configHash: HASH_0,
      genesisDelaySeconds: 100,
      roundSeconds: ROUND,
      submissionSeconds: 1,
      scoringSeconds: 2,
      unstakeDelay: 3 * ROUND,
    });
    genesis = dep.params.genesis;
    deployBlock = dep.block;
    operator = new TrainingRunClient({ address: dep.address }, { runner: new Wallet(anvil.accounts[0], provider) });
    other = new TrainingRunClient({ address: dep.address }, { runner: new Wallet(anvil.accounts[1], provider) });
  });

  after(async () => {
    provider?.destroy();
    await anvil?.stop();
  });

  it("reads entry 0 and the operator (the deployer)", async () => {
    assert.deepEqual(await other.configTimeline(), [{ fromRound: 0, configHash: HASH_0 }]);
    assert.equal(await other.owner(), new Wallet(anvil.accounts[0]).address);
    assert.equal(await other.pendingOwner(), null);
  });

  it("appends, reads the timeline back and decodes ConfigAppended with the one event decoder", async () => {
    await setTime(genesis + 3 * ROUND + 1); // round 3
    const r = await operator.appendConfig(5, HASH_1);
    assert.equal(r.configHash, HASH_1.toLowerCase());
    assert.ok(r.gasUsed > 0n);
    assert.deepEqual(await other.configTimeline(), [
      { fromRound: 0, configHash: HASH_0 },
      { fromRound: 5, configHash: HASH_1.toLowerCase() },
    ]);
    assert.equal(await other.configHashAt(4), HASH_0);
    assert.equal(await other.configHashAt(5), HASH_1.toLowerCase());
    const events: ChainEvent[] = [];
    const indexer = new EventIndexer(
      { fromBlock: deployBlock },
      { provider, contract: operator.contract, cursor: memoryCursor(), onEvent: (e) => void events.push(e) },
    );
    await indexer.syncOnce();
    const appended = events.filter((e) => e.name === "ConfigAppended");
    assert.deepEqual(
      appended.map((e) => e.args),
      [{ fromRound: 5, configHash: HASH_1.toLowerCase() }],
    );
  });

  it("typed one-line errors that name the round, the hash and both addresses; nothing changes", async () => {
    const before = await other.configTimeline();
    const me = new Wallet(anvil.accounts[1]).address;
    const boss = new Wallet(anvil.accounts[0]).address;
    await code(other.appendConfig(9, HASH_2), "NOT_OPERATOR", new RegExp(`${me} is not the run's operator ${boss}`));
    await setTime(genesis + 7 * ROUND + 1); // round 7: the earliest is 9
    await code(operator.appendConfig(8, HASH_2), "CONFIG_TOO_SOON", /round 8 is too soon.*earliest round .* is 9/);
    await code(operator.appendConfig(5, HASH_2), "CONFIG_TOO_SOON", /earliest .* 9/);
    await code(operator.appendConfig(0, `0x${"00".repeat(32)}`), "BAD_CONFIG_HASH", /0x0{64}/);
    await code(operator.appendConfig(9, "0x1234"), "BAD_CONFIG_HASH", /0x1234/);
    await code(operator.appendConfig(-1, HASH_2), "BAD_PARAMS", /fromRound -1/);
    assert.deepEqual(await other.configTimeline(), before);
  });

  it("CONFIG_NOT_AFTER_LAST names the last entry's round", async () => {
    await operator.appendConfig(20, HASH_2);
    await code(
      operator.appendConfig(15, HASH_2),
      "CONFIG_NOT_AFTER_LAST",
      /round 15 .* last timeline entry's round 20/,
    );
  });

  it("hands the operator role over in two steps; the new operator appends", async () => {
    const next = new Wallet(anvil.accounts[1]).address;
    await operator.transferOwnership(next);
    assert.equal(await other.pendingOwner(), next);
    await other.acceptOwnership();
    assert.equal(await other.owner(), next);
    await code(operator.appendConfig(30, HASH_1), "NOT_OPERATOR", new RegExp(`is not the run's operator ${next}`));
    await other.appendConfig(30, HASH_1);
    assert.equal((await other.configTimeline()).length, 4);
  });

  it("refuses a timeline longer than maxConfigEntries (TIMELINE_TOO_LONG)", async () => {
    const small = new TrainingRunClient({ address: other.address, maxConfigEntries: 3 }, { runner: provider });
    await code(small.configTimeline(), "TIMELINE_TOO_LONG", /4 entries, more than maxConfigEntries 3/);
  });
});
