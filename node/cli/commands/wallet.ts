import type { Command } from "commander";
import { type JsonRpcProvider, Wallet, formatEther, getAddress, isAddress, parseEther } from "ethers";
import { ChainError, DEV_CHAIN_ID, TrainingRunClient, anvilKey, createProvider } from "../../chain/index.ts";
import { IdentityError, loadKeyFile } from "../../identity/index.ts";
import { CliError } from "../errors.ts";
import { readPassword } from "../password.ts";
import { type StatusFlags, resolveTarget } from "./status.ts";

/** Flags of the commands that move money (claim, stake, unstake, withdraw, fund). */
export interface WalletFlags extends Omit<StatusFlags, "address"> {
  passwordFile?: string;
  dryRun?: boolean;
}

/** What a money command did (or, with --dry-run, would do); printed as one line or one JSON object. */
export interface WalletResult {
  action: "claim" | "stake" | "unstake" | "withdraw" | "fund";
  chainId: number;
  from: string;
  /** The TrainingRun, or the funded account for `fund`. */
  to: string;
  /** Ether sent with the transaction (stake, fund) or received by it (claim: reward tokens; withdraw: stake). */
  amount: string;
  gasEstimate: string;
  dryRun: boolean;
  /** Transaction hash; absent on a dry run. */
  tx?: string;
  block?: number;
  /** withdraw: when the stake can be taken out (unstake), ISO time. */
  withdrawableAt?: string;
}

/** A positive ether amount from the command line, e.g. "1.5"; `field` names it in the error. */
export function parseAmount(text: string, field = "amount"): bigint {
  let wei: bigint;
  try {
    wei = parseEther(text.trim());
  } catch {
    throw new CliError(`${field}: "${text}" is not an amount of ether (e.g. 1.5)`);
  }
  if (wei <= 0n) throw new CliError(`${field}: must be more than 0 ether, got ${text}`);
  return wei;
}

const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();
const eth = (wei: bigint) => `${formatEther(wei)} ETH`;

interface Session {
  provider: JsonRpcProvider;
  chainId: number;
  rpc: string;
  contract: string;
}

/** Connects to the RPC and checks it is the chain the network/deployment file names and that the run is there. */
async function connect(f: WalletFlags, needContract: boolean): Promise<Session> {
  const target = needContract ? resolveTarget(f) : { rpc: f.rpc ?? process.env.COTRAIN_RPC ?? "http://127.0.0.1:8545" };
  const provider = createProvider(target.rpc);
  try {
    const network = await provider.getNetwork().catch(() => {
      throw new CliError(`cannot reach an Ethereum JSON-RPC endpoint at ${target.rpc}`);
    });
    const chainId = Number(network.chainId);
    if ("chainId" in target && target.chainId && target.chainId.value !== chainId) {
      throw new CliError(
        `wrong chain: chainId: ${target.chainId.from} is for chain ${target.chainId.value} but ${target.rpc} is chain ${chainId}`,
      );
    }
    const contract = "contract" in target ? target.contract : "";
    if (needContract && (await provider.getCode(contract)) === "0x") {
      throw new CliError(`contract: no contract at ${contract} on chain ${chainId} (${target.rpc})`);
    }
    return { provider, chainId, rpc: target.rpc, contract };
  } catch (err) {
    provider.destroy();
    throw err;
  }
}

/** --key (or COTRAIN_KEY): a keystore (password from --password-file, COTRAIN_PASSWORD or a prompt) or a 0x hex key file. */
async function loadWallet(f: WalletFlags, s: Session, fallback?: () => string): Promise<Wallet> {
  const file = f.key ?? process.env.COTRAIN_KEY;
  if (!file) {
    if (fallback) return new Wallet(fallback(), s.provider);
    throw new CliError(
      "key: pass --key FILE (a keystore from `cotrain keys new`, or a 0x hex key file) or set COTRAIN_KEY",
    );
  }
  try {
    return (await loadKeyFile(file, () => readPassword(f))).wallet.connect(s.provider);
  } catch (err) {
    if (err instanceof IdentityError) throw new CliError(`key: ${err.message}`);
    throw err;
  }
}

/**
 * Estimates the transaction (a would-be revert becomes its one-line reason), checks the sender can pay
 * `value` plus gas at the current fee, and sends it unless --dry-run. Nothing is sent when a check fails.
 */
export async function estimateAndCheck(
  s: Session,
  wallet: Wallet,
  what: string,
  value: bigint,
  estimate: () => Promise<bigint>,
): Promise<{ gas: bigint }> {
  const [balance, fees] = await Promise.all([s.provider.getBalance(wallet.address), s.provider.getFeeData()]);
  const short = (need: string) =>
    new CliError(
      `insufficient funds: ${wallet.address} holds ${eth(balance)} but ${what} needs ${need} on chain ${s.chainId}`,
    );
  // The node refuses to estimate a transfer the balance cannot cover, so that case is named first.
  if (balance < value) throw short(`${eth(value)} plus gas`);
  const gas = await estimate().catch((err) => {
    if (err instanceof ChainError && /insufficient funds/i.test(err.message)) throw short(`${eth(value)} plus gas`);
    throw err instanceof ChainError ? new CliError(explainRevert(err, wallet.address)) : err;
  });
  const price = fees.maxFeePerGas ?? fees.gasPrice ?? 0n;
  const need = value + gas * price;
  if (balance < need) throw short(`${eth(need)} (${eth(value)} plus about ${eth(gas * price)} gas)`);
  return { gas };
}

/** A contract revert as one line an operator can act on; the custom error's fields named in words. */
export function explainRevert(err: ChainError, account: string): string {
  const r = err.revert;
  if (!r) return err.message;
  const a = r.args;
  switch (r.name.replace(/^TrainingRun/, "")) {
    case "NothingToClaim":
      return `nothing to claim: ${account} has no pending rewards`;
    case "StakeBelowMinimum":
      return `amount: a first stake of ${eth(a[0] as bigint)} is below the run's minimum stake of ${eth(a[1] as bigint)}`;
    case "ValidatorSetFull":
      return `validator set full: the run allows ${a[0]} validators and all slots are staked`;
    case "UnstakePending":
      return `${account} has already asked to unstake; its stake is withdrawable at ${iso(Number(a[1]))} (cotrain withdraw)`;
    case "ValidatorNotStaked":
      return `${account} has no stake in this run`;
    case "NoUnstakeRequested":
      return `${account} has not asked to unstake (run cotrain unstake first)`;
    case "UnstakeDelayNotElapsed":
      return `${account}'s stake is withdrawable at ${iso(Number(a[0]))}, not yet`;
    case "StakeTooLarge":
      return `amount: a total stake of ${eth(a[0] as bigint)} is more than the contract can weigh`;
    default:
      return err.message;
  }
}

/** Connects (checking chain and contract), loads --key and runs `fn`; a contract revert becomes one CliError line. */
export async function withRun<T>(
  f: WalletFlags,
  fn: (s: Session, client: TrainingRunClient, wallet: Wallet) => Promise<T>,
): Promise<T> {
  const s = await connect(f, true);
  try {
    const wallet = await loadWallet(f, s);
    const client = new TrainingRunClient({ address: s.contract }, { runner: wallet });
    return await fn(s, client, wallet).catch((err) => {
      throw err instanceof ChainError ? new CliError(explainRevert(err, wallet.address)) : err;
    });
  } finally {
    s.provider.destroy();
  }
}

const result = (
  s: Session,
  action: WalletResult["action"],
  from: string,
  amount: bigint,
  gas: bigint,
  dryRun: boolean,
  tx?: { hash: string; blockNumber: number },
): WalletResult => ({
  action,
  chainId: s.chainId,
  from,
  to: s.contract,
  amount: formatEther(amount),
  gasEstimate: gas.toString(),
  dryRun,
  ...(tx ? { tx: tx.hash, block: tx.blockNumber } : {}),
});

/** `cotrain claim`: mints the key's pending peer and validator rewards to it. */
export function runClaim(f: WalletFlags): Promise<WalletResult> {
  return withRun(f, async (s, client, wallet) => {
    const pending = await client.pendingRewards(wallet.address);
    if (pending === 0n)
      throw new CliError(`nothing to claim: ${wallet.address} has no pending rewards on run ${s.contract}`);
    const { gas } = await estimateAndCheck(s, wallet, "claim", 0n, () => client.estimateGas("claim"));
    if (f.dryRun) return result(s, "claim", wallet.address, pending, gas, true);
    const tx = await client.claim();
    return result(s, "claim", wallet.address, tx.amount, gas, false, tx);
  });
}

/** `cotrain stake AMOUNT`: deposits validator stake (the first stake must reach the run's minimum). */
export async function runStake(amountText: string, f: WalletFlags): Promise<WalletResult> {
  const amount = parseAmount(amountText);
  return withRun(f, async (s, client, wallet) => {
    const [{ amount: staked, withdrawableAt }, params] = await Promise.all([
      client.stakeOf(wallet.address),
      client.runParams(),
    ]);
    if (withdrawableAt !== 0) {
      throw new CliError(
        `${wallet.address} has asked to unstake; withdraw its ${eth(staked)} at ${iso(withdrawableAt)} before staking again`,
      );
    }
    if (staked === 0n && amount < params.minStake) {
      throw new CliError(
        `amount: ${eth(amount)} is below the run's minimum stake of ${eth(params.minStake)} (${wallet.address} has no stake yet)`,
      );
    }
    const { gas } = await estimateAndCheck(s, wallet, `a stake of ${eth(amount)}`, amount, () =>
      client.estimateGas("stake", [], { value: amount }),
    );
    if (f.dryRun) return result(s, "stake", wallet.address, amount, gas, true);
    return result(s, "stake", wallet.address, amount, gas, false, await client.stake(amount));
  });
}

/** `cotrain unstake`: stops validating from the next snapshot; the stake stays locked for the unstake delay. */
export function runUnstake(f: WalletFlags): Promise<WalletResult> {
  return withRun(f, async (s, client, wallet) => {
    const { amount: staked } = await client.stakeOf(wallet.address);
    if (staked === 0n) throw new CliError(`${wallet.address} has no stake on run ${s.contract}`);
    const { gas } = await estimateAndCheck(s, wallet, "unstake", 0n, () => client.estimateGas("requestUnstake"));
    if (f.dryRun) return result(s, "unstake", wallet.address, staked, gas, true);
    const tx = await client.requestUnstake();
    const { withdrawableAt } = await client.stakeOf(wallet.address);
    return { ...result(s, "unstake", wallet.address, staked, gas, false, tx), withdrawableAt: iso(withdrawableAt) };
  });
}

/** `cotrain withdraw`: takes the stake back once the unstake delay has passed. */
export function runWithdraw(f: WalletFlags): Promise<WalletResult> {
  return withRun(f, async (s, client, wallet) => {
    const [{ amount: staked, withdrawableAt }, block] = await Promise.all([
      client.stakeOf(wallet.address),
      s.provider.getBlock("latest"),
    ]);
    if (withdrawableAt === 0) {
      throw new CliError(
        staked === 0n
          ? `${wallet.address} has no stake on run ${s.contract}`
          : `${wallet.address} has not asked to unstake its ${eth(staked)} (run cotrain unstake first)`,
      );
    }
    const now = block?.timestamp ?? Math.floor(Date.now() / 1000);
    if (now < withdrawableAt) {
      throw new CliError(
        `${wallet.address}'s ${eth(staked)} is withdrawable at ${iso(withdrawableAt)} (in ${withdrawableAt - now} s of chain time)`,
      );
    }
    const { gas } = await estimateAndCheck(s, wallet, "withdraw", 0n, () => client.estimateGas("withdraw"));
    if (f.dryRun) return result(s, "withdraw", wallet.address, staked, gas, true);
    return result(s, "withdraw", wallet.address, staked, gas, false, await client.withdraw());
  });
}

/**
 * `cotrain fund ADDRESS AMOUNT`: sends ether on a dev chain (chain id 31337) from --key or, by default,
 * anvil's first dev account, so a fresh key can pay gas, a bond or a stake. Refused on any other chain.
 */
export async function runFund(toText: string, amountText: string, f: WalletFlags): Promise<WalletResult> {
  if (!isAddress(toText)) throw new CliError(`address: "${toText}" is not a 0x-prefixed 20-byte address`);
  const to = getAddress(toText);
  const amount = parseAmount(amountText);
  const s = await connect(f, false);
  try {
    if (s.chainId !== DEV_CHAIN_ID) {
      throw new CliError(
        `wrong chain: fund works on dev chains only (chain id ${DEV_CHAIN_ID}); ${s.rpc} is chain ${s.chainId}`,
      );
    }
    const wallet = await loadWallet(f, s, () => anvilKey(0));
    const session = { ...s, contract: to };
    const { gas } = await estimateAndCheck(session, wallet, `sending ${eth(amount)}`, amount, () =>
      s.provider.estimateGas({ from: wallet.address, to, value: amount }),
    );
    if (f.dryRun) return result(session, "fund", wallet.address, amount, gas, true);
    const sent = await wallet.sendTransaction({ to, value: amount });
    const receipt = await sent.wait();
    return result(session, "fund", wallet.address, amount, gas, false, {
      hash: sent.hash,
      blockNumber: receipt?.blockNumber ?? 0,
    });
  } finally {
    s.provider.destroy();
  }
}

/** One line for a terminal: what happened, to whom, which transaction. */
export function describeResult(r: WalletResult): string {
  const verb = {
    claim: `claimed ${r.amount} reward tokens`,
    stake: `staked ${r.amount} ETH`,
    unstake: `asked to unstake ${r.amount} ETH${r.withdrawableAt ? ` (withdrawable at ${r.withdrawableAt})` : ""}`,
    withdraw: `withdrew ${r.amount} ETH of stake`,
    fund: `sent ${r.amount} ETH to ${r.to}`,
  }[r.action];
  if (r.dryRun) {
    const what = r.action === "claim" ? `${r.amount} reward tokens` : `${r.amount} ETH`;
    return `dry run, nothing sent: ${r.action} ${what} from ${r.from} on chain ${r.chainId} (gas ≈ ${r.gasEstimate})`;
  }
  return `${r.from} ${verb} on chain ${r.chainId} in tx ${r.tx} (block ${r.block})`;
}

/** The run (--network/--contract/--deployment), chain (--rpc), key and --dry-run/--json flags of a write. */
export function addWalletFlags(cmd: Command, opts: { run: boolean } = { run: true }): Command {
  if (opts.run) {
    cmd
      .option("--network <file>", "network file (cotrain join format); default .data/testnet/join.json when it exists")
      .option("--contract <address>", "TrainingRun address (env COTRAIN_CONTRACT)")
      .option("--deployment <file>", "deployment JSON from `cotrain deploy --out`");
  }
  return cmd
    .option("--rpc <url>", "JSON-RPC endpoint (env COTRAIN_RPC)")
    .option("--key <file>", "the account's key: keystore (cotrain keys new) or 0x hex key file (env COTRAIN_KEY)")
    .option("--password-file <file>", "keystore password file (else COTRAIN_PASSWORD, else a prompt)")
    .option("--dry-run", "check and estimate the transaction, print what would be sent, send nothing")
    .option("--json", "print one JSON object instead of a line");
}

const print = (f: WalletFlags) => (r: WalletResult) => {
  console.log(f.json ? JSON.stringify(r) : describeResult(r));
};

export function registerWallet(program: Command): void {
  addWalletFlags(
    program.command("claim").description("mint this key's pending peer and validator rewards to it"),
  ).action((f: WalletFlags) => runClaim(f).then(print(f)));
  addWalletFlags(
    program
      .command("stake")
      .argument("<amount>", "ether to stake, e.g. 1.5 (the first stake must reach the run's minStake)")
      .description("deposit validator stake (counts from the next round's snapshot)"),
  ).action((amount: string, f: WalletFlags) => runStake(amount, f).then(print(f)));
  addWalletFlags(
    program
      .command("unstake")
      .description("stop validating from the next snapshot; the stake stays locked for the run's unstake delay"),
  ).action((f: WalletFlags) => runUnstake(f).then(print(f)));
  addWalletFlags(
    program.command("withdraw").description("take the stake back once the unstake delay has passed"),
  ).action((f: WalletFlags) => runWithdraw(f).then(print(f)));
  addWalletFlags(
    program
      .command("fund")
      .argument("<address>", "account to send ether to")
      .argument("<amount>", "ether to send, e.g. 10")
      .description(
        `dev chains (chain id ${DEV_CHAIN_ID}) only: send ether from a dev account (or --key) for gas, bond and stake`,
      ),
    { run: false },
  ).action((to: string, amount: string, f: WalletFlags) => runFund(to, amount, f).then(print(f)));
}
