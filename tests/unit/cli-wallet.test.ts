import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type JsonRpcProvider, Wallet, parseEther } from "ethers";
import {
  type AnvilInstance,
  ChainError,
  TrainingRunClient,
  createProvider,
  deployTrainingRun,
  startAnvil,
} from "../../node/chain/index.ts";
import { checkChain } from "../../node/cli/commands/doctor.ts";
import { CliError } from "../../node/cli/errors.ts";
import { runCli } from "../../node/cli/run.ts";
import {
  type WalletFlags,
  describeResult,
  runClaim,
  runFund,
  runStake,
  runUnstake,
  runWithdraw,
} from "../../node/cli/commands/wallet.ts";

/** `cotrain fund/stake/claim/unstake/withdraw` against a real anvil: each refusal names the field and changes nothing. */
describe("cotrain money commands on anvil", () => {
  let anvil: AnvilInstance;
  let provider: JsonRpcProvider;
  let dir: string;
  let deployment: string;
  let contract: string;
  const fresh = Wallet.createRandom();
  let freshKey: string;
  let peerKey: string;
  let peer: Wallet;
  const HASH = `0x${"5a".repeat(32)}`;
  const flags = (over: Partial<WalletFlags> = {}): WalletFlags => ({ rpc: anvil.rpcUrl, deployment, ...over });
  const rejects = (p: Promise<unknown>, re: RegExp) =>
    assert.rejects(p, (e: unknown) => e instanceof CliError && re.test(e.message) && !e.message.includes("\n"));
  const setTime = async (t: number) => {
    await provider.send("evm_setNextBlockTimestamp", [t]);
    await provider.send("evm_mine", []);
  };

  before(async () => {
    anvil = await startAnvil({ accounts: 3 });
    provider = createProvider(anvil.rpcUrl, { pollingIntervalMs: 50 });
    const dep = await deployTrainingRun(new Wallet(anvil.accounts[0], provider), {
      genesisDelaySeconds: 30,
      roundSeconds: 4,
      submissionSeconds: 1,
      scoringSeconds: 2,
      unstakeDelay: 12,
      peerBond: "0",
      minStake: "1",
      rewardPerRound: "10",
    });
    contract = dep.address;
    dir = await mkdtemp(join(tmpdir(), "cotrain-wallet-"));
    deployment = join(dir, "deployment.json");
    await writeFile(deployment, JSON.stringify(dep));
    freshKey = join(dir, "fresh.key");
    await writeFile(freshKey, `${fresh.privateKey}\n`);
    peerKey = join(dir, "peer.key");
    await writeFile(peerKey, anvil.accounts[1]);
    peer = new Wallet(anvil.accounts[1], provider);
  });

  after(async () => {
    provider?.destroy();
    await anvil?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const doctor = async (key: string) => {
    const results = await checkChain({ rpc: anvil.rpcUrl, chainId: 31337, contract }, key, { validator: true });
    return Object.fromEntries(results.map((r) => [r.name, r]));
  };

  it("doctor before genesis: the run is reported as not started, an unfunded validator key fails the stake check", async () => {
    const r = await doctor(freshKey);
    assert.equal(r.contract.status, "ok");
    assert.match(r.contract.detail, /not started \(genesis at \d{4}-/);
    assert.equal(r.wallet.status, "fail");
    assert.equal(r.stake.status, "fail");
    assert.match(
      r.stake.detail,
      new RegExp(`^${fresh.address} holds 0\\.0 ETH, less than the run's minimum stake of 1\\.0 ETH`),
    );
  });

  it("fund: a dev account pays a fresh key; bad address and amounts are refused by name", async () => {
    const r = await runFund(fresh.address, "3", { rpc: anvil.rpcUrl });
    assert.equal(r.action, "fund");
    assert.equal(r.to, fresh.address);
    assert.match(r.tx ?? "", /^0x[0-9a-f]{64}$/);
    assert.equal(await provider.getBalance(fresh.address), parseEther("3"));
    await rejects(runFund("0x1234", "1", { rpc: anvil.rpcUrl }), /^address: "0x1234" is not a 0x-prefixed 20-byte/);
    await rejects(runFund(fresh.address, "abc", { rpc: anvil.rpcUrl }), /^amount: "abc" is not an amount of ether/);
    await rejects(runFund(fresh.address, "0", { rpc: anvil.rpcUrl }), /^amount: must be more than 0 ether/);
    const broke = Wallet.createRandom();
    const brokeKey = join(dir, "broke.key");
    await writeFile(brokeKey, broke.privateKey);
    await rejects(
      runFund(fresh.address, "1", { rpc: anvil.rpcUrl, key: brokeKey }),
      new RegExp(
        `^insufficient funds: ${broke.address} holds 0\\.0 ETH but sending 1\\.0 ETH needs 1\\.0 ETH plus gas`,
      ),
    );
    assert.equal(await provider.getBalance(fresh.address), parseEther("3"));
    // The client itself (as a node's validator stakes on start) names the account and the value too.
    const brokeClient = new TrainingRunClient({ address: contract }, { runner: broke.connect(provider) });
    await assert.rejects(
      brokeClient.stake(parseEther("2")),
      (e: unknown) =>
        e instanceof ChainError &&
        e.code === "INSUFFICIENT_FUNDS" &&
        e.message.startsWith(`stake: insufficient funds: ${broke.address} cannot pay 2.0 ETH plus gas`),
    );
  });

  it("fund refuses a chain that is not a dev chain; writes refuse an RPC of another chain than the file's", async () => {
    const other = await startAnvil({ chainId: 1337, accounts: 1 });
    try {
      await rejects(
        runFund(fresh.address, "1", { rpc: other.rpcUrl }),
        /^wrong chain: fund works on dev chains only \(chain id 31337\); .* is chain 1337$/,
      );
      await rejects(
        runStake("1", { rpc: other.rpcUrl, deployment, key: freshKey }),
        /^wrong chain: chainId: deployment .* is for chain 31337 but .* is chain 1337$/,
      );
    } finally {
      await other.stop();
    }
    await rejects(
      runClaim(flags({ key: freshKey, contract: `0x${"12".repeat(20)}` })),
      /^contract: no contract at 0x1212/,
    );
    await rejects(runClaim(flags()), /^key: pass --key FILE/);
  });

  it("stake: insufficient funds and a stake below the minimum change nothing; dry run sends nothing", async () => {
    const client = new TrainingRunClient({ address: contract }, { runner: provider });
    await rejects(
      runStake("5", flags({ key: freshKey })),
      new RegExp(
        `^insufficient funds: ${fresh.address} holds 3\\.0 ETH but a stake of 5\\.0 ETH needs 5\\.0 ETH plus gas on chain 31337$`,
      ),
    );
    // Enough for the stake but not for its gas.
    await rejects(
      runStake("3", flags({ key: freshKey })),
      new RegExp(`^insufficient funds: ${fresh.address} holds 3\\.0 ETH but a stake of 3\\.0 ETH needs 3\\.0`),
    );
    await rejects(
      runStake("0.5", flags({ key: freshKey })),
      /^amount: 0\.5 ETH is below the run's minimum stake of 1\.0 ETH/,
    );
    await rejects(runStake("-1", flags({ key: freshKey })), /^amount: /);
    const dry = await runStake("1", flags({ key: freshKey, dryRun: true }));
    assert.equal(dry.dryRun, true);
    assert.equal(dry.tx, undefined);
    assert.ok(BigInt(dry.gasEstimate) > 21_000n);
    assert.match(describeResult(dry), /^dry run, nothing sent: stake 1\.0 ETH from /);
    assert.equal((await client.stakeOf(fresh.address)).amount, 0n);
    assert.equal(await provider.getBalance(fresh.address), parseEther("3"));

    const r = await runStake("1", flags({ key: freshKey }));
    assert.equal(r.dryRun, false);
    assert.equal((await client.stakeOf(fresh.address)).amount, parseEther("1"));
    assert.equal(await client.isValidator(fresh.address), true);
    const d = await doctor(freshKey);
    assert.equal(d.stake.status, "ok");
    assert.match(d.stake.detail, /^1\.0 ETH staked \(minimum 1\.0 ETH\)/);
  });

  it("claim: nothing to claim is refused; after a finalized round the peer and the validator each claim theirs", async () => {
    const reader = new TrainingRunClient({ address: contract }, { runner: provider });
    await rejects(runClaim(flags({ key: freshKey })), new RegExp(`^nothing to claim: ${fresh.address} has no pending`));
    await new TrainingRunClient({ address: contract }, { runner: peer }).registerPeer();
    const validator = new TrainingRunClient({ address: contract }, { runner: fresh.connect(provider) });
    await setTime((await reader.scoringWindow(0)).opensAt);
    await validator.submitScores({ round: 0, modelHash: HASH, payloads: [], scores: [100] });
    await validator.finalizeRound(0);
    const peerOwed = await reader.pendingRewards(peer.address);
    const validatorOwed = await reader.pendingRewards(fresh.address);
    assert.ok(peerOwed > 0n && validatorOwed > 0n);
    assert.equal(peerOwed + validatorOwed, parseEther("10"));

    const dry = await runClaim(flags({ key: peerKey, dryRun: true }));
    assert.equal(parseEther(dry.amount), peerOwed);
    assert.equal(await reader.pendingRewards(peer.address), peerOwed);
    const c1 = await runClaim(flags({ key: peerKey }));
    assert.equal(parseEther(c1.amount), peerOwed);
    assert.equal(await reader.tokenBalance(peer.address), peerOwed);
    const c2 = await runClaim(flags({ key: freshKey }));
    assert.equal(parseEther(c2.amount), validatorOwed);
    assert.equal(await reader.tokenBalance(fresh.address), validatorOwed);
    await rejects(runClaim(flags({ key: peerKey })), new RegExp(`^nothing to claim: ${peer.address}`));
    assert.equal(await reader.tokenBalance(peer.address), peerOwed);
  });

  it("unstake then withdraw: each out-of-order call names the account and the time; the stake comes back", async () => {
    const reader = new TrainingRunClient({ address: contract }, { runner: provider });
    await rejects(runWithdraw(flags({ key: freshKey })), /has not asked to unstake its 1\.0 ETH/);
    await rejects(runUnstake(flags({ key: peerKey })), new RegExp(`^${peer.address} has no stake on run`));
    const u = await runUnstake(flags({ key: freshKey }));
    assert.equal(u.amount, "1.0");
    const { withdrawableAt } = await reader.stakeOf(fresh.address);
    assert.equal(u.withdrawableAt, new Date(withdrawableAt * 1000).toISOString());
    await rejects(runUnstake(flags({ key: freshKey })), /has already asked to unstake; its stake is withdrawable at /);
    await rejects(runStake("1", flags({ key: freshKey })), /has asked to unstake; withdraw its 1\.0 ETH at /);
    assert.equal((await doctor(freshKey)).stake.status, "fail");
    await rejects(
      runWithdraw(flags({ key: freshKey })),
      new RegExp(`^${fresh.address}'s 1\\.0 ETH is withdrawable at .* \\(in \\d+ s of chain time\\)$`),
    );
    assert.equal((await reader.stakeOf(fresh.address)).amount, parseEther("1"));
    await setTime(withdrawableAt + 1);
    const before = await provider.getBalance(fresh.address);
    const w = await runWithdraw(flags({ key: freshKey }));
    assert.equal(w.amount, "1.0");
    const gained = (await provider.getBalance(fresh.address)) - before;
    assert.ok(gained > parseEther("0.99") && gained < parseEther("1"), `gained ${gained}`);
    assert.equal((await reader.stakeOf(fresh.address)).amount, 0n);
    await rejects(runWithdraw(flags({ key: freshKey })), /has no stake on run/);
  });

  it("the CLI prints a refusal as one line on stderr with exit code 1, and --json on success", async () => {
    const err: string[] = [];
    const out: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    const log = console.log;
    process.stderr.write = ((s: string) => err.push(String(s)) > 0) as typeof process.stderr.write;
    console.log = (s: string) => out.push(s);
    try {
      await runCli(["node", "cotrain", "claim", "--rpc", anvil.rpcUrl, "--deployment", deployment, "--key", peerKey]);
      assert.equal(process.exitCode, 1);
      process.exitCode = 0;
      await runCli(["node", "cotrain", "fund", peer.address, "0.5", "--rpc", anvil.rpcUrl, "--json"]);
      assert.equal(process.exitCode, 0);
    } finally {
      process.stderr.write = write;
      console.log = log;
      process.exitCode = 0;
    }
    for (const c of ["claim", "stake", "unstake", "withdraw", "fund"]) {
      const help: string[] = [];
      const w = process.stdout.write.bind(process.stdout);
      process.stdout.write = ((s: string) => help.push(String(s)) > 0) as typeof process.stdout.write;
      try {
        await runCli(["node", "cotrain", c, "--help"]);
      } finally {
        process.stdout.write = w;
      }
      assert.equal(process.exitCode, 0, c);
      assert.match(help.join(""), new RegExp(`Usage: cotrain ${c} [^]*--dry-run[^]*--json`), c);
    }
    assert.deepEqual(err, [`cotrain: nothing to claim: ${peer.address} has no pending rewards on run ${contract}\n`]);
    assert.equal(out.length, 1);
    const r = JSON.parse(out[0]);
    assert.equal(r.action, "fund");
    assert.equal(r.amount, "0.5");
    assert.equal(r.to, peer.address);
  });
});
