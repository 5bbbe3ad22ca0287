import { existsSync, readFileSync } from "node:fs";
import type { Command } from "commander";
import { Wallet, formatEther } from "ethers";
import { ChainError, TrainingRunClient, createProvider } from "../../chain/index.ts";
import { CliError } from "../errors.ts";
import { readNetworkFile } from "./network.ts";

export interface StatusFlags {
  network?: string;
  rpc?: string;
  contract?: string;
  deployment?: string;
  address?: string;
  key?: string;
  json?: boolean;
}

/** Where `cotrain testnet` leaves its network file: `cotrain status` with no flags reads the local testnet. */
export const LOCAL_TESTNET_JOIN_FILE = ".data/testnet/join.json";

/** rpc + contract from flags > COTRAIN_* env > --deployment > --network (default: the local testnet's). */
export function resolveTarget(
  f: StatusFlags,
  env = process.env,
): { rpc: string; contract: string; chainId?: { value: number; from: string } } {
  const networkFile =
    f.network ?? (existsSync(LOCAL_TESTNET_JOIN_FILE) && !f.deployment ? LOCAL_TESTNET_JOIN_FILE : undefined);
  const net = networkFile ? readNetworkFile(networkFile).file : undefined;
  let depAddress: string | undefined;
  let depChainId: number | undefined;
  if (f.deployment) {
    try {
      ({ address: depAddress, chainId: depChainId } = JSON.parse(readFileSync(f.deployment, "utf8")) as {
        address?: string;
        chainId?: number;
      });
    } catch (err) {
      throw new CliError(
        `invalid configuration: deployment: cannot read ${f.deployment}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  }
  const rpc = f.rpc ?? env.COTRAIN_RPC ?? net?.rpc ?? "http://127.0.0.1:8545";
  const contract = f.contract ?? env.COTRAIN_CONTRACT ?? depAddress ?? net?.contract;
  if (!contract)
    throw new CliError(
      "invalid configuration: contract: pass --network FILE, --deployment FILE or --contract ADDRESS (no local testnet found)",
    );
  if (!/^0x[0-9a-fA-F]{40}$/.test(contract))
    throw new CliError(`invalid configuration: contract: "${contract}" is not a 0x-prefixed 20-byte address`);
  // The chain the file was written for, so a write is never sent to another chain by a wrong --rpc.
  const chainId =
    typeof depChainId === "number"
      ? { value: depChainId, from: `deployment ${f.deployment}` }
      : net
        ? { value: net.chainId, from: `network file ${networkFile}` }
        : undefined;
  return { rpc, contract, chainId };
}

/** --address, or the address of a 0x hex key file (keystores need --address: no password prompt for a read). */
function resolveAccount(f: StatusFlags): string | undefined {
  if (f.address) {
    if (!/^0x[0-9a-fA-F]{40}$/.test(f.address))
      throw new CliError(`invalid configuration: address: "${f.address}" is not an address`);
    return f.address;
  }
  if (!f.key) return undefined;
  const text = readFileSync(f.key, "utf8").trim();
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(text)) return new Wallet(text.startsWith("0x") ? text : `0x${text}`).address;
  try {
    return `0x${(JSON.parse(text) as { address: string }).address.replace(/^0x/, "")}`;
  } catch {
    throw new CliError(`invalid configuration: key: ${f.key} is neither a hex key nor a JSON keystore`);
  }
}

/** Reads the run's state from the chain; every value comes from a view call. */
export async function readStatus(f: StatusFlags) {
  const { rpc, contract } = resolveTarget(f);
  const account = resolveAccount(f);
  const provider = createProvider(rpc);
  try {
    const network = await provider.getNetwork().catch(() => {
      throw new CliError(`cannot reach an Ethereum JSON-RPC endpoint at ${rpc}`);
    });
    if ((await provider.getCode(contract)) === "0x")
      throw new CliError(`no contract at ${contract} on chain ${network.chainId}`);
    const client = new TrainingRunClient({ address: contract }, { runner: provider });
    const [params, round, lastFinalized, peers, validators, block] = await Promise.all([
      client.runParams(),
      client.currentRound().catch(() => null), // reverts before genesis
      client.lastFinalizedRound(),
      client.activePeerCount(), // held slots (a freed slot of an exited or evicted peer is not a peer)
      client.activeValidators(),
      provider.getBlock("latest"),
    ]);
    const now = block?.timestamp ?? Math.floor(Date.now() / 1000);
    const out = {
      chainId: Number(network.chainId),
      rpc,
      contract,
      block: block?.number ?? null,
      round,
      roundEndsIn: Math.max(0, params.genesis + ((round ?? -1) + 1) * params.roundSeconds - now),
      roundSeconds: params.roundSeconds,
      lastFinalized,
      lastModelHash: lastFinalized === null ? null : await client.modelHashOf(lastFinalized),
      peers,
      validators: validators.count,
      totalStake: formatEther(validators.totalStake),
      account: undefined as undefined | Record<string, unknown>,
    };
    if (account) {
      const [index, stake, pending, balance, native] = await Promise.all([
        client.peerIndex(account),
        client.stakeOf(account),
        client.pendingRewards(account),
        client.tokenBalance(account),
        provider.getBalance(account),
      ]);
      out.account = {
        address: account,
        peerIndex: index,
        // EMA of median scores in uint16 score units × 256 (docs/contract.md); shown as a 0..1 fraction.
        rating: index === null ? null : Number(((await client.peerRating(index)) / 256 / 65535).toFixed(4)),
        stake: formatEther(stake.amount),
        pendingRewards: formatEther(pending),
        claimedRewards: formatEther(balance),
        balance: formatEther(native),
      };
    }
    return out;
  } catch (err) {
    if (err instanceof ChainError) throw new CliError(err.message);
    throw err;
  } finally {
    provider.destroy();
  }
}

export function registerStatus(program: Command): void {
  program
    .command("status")
    .description(
      "read a run's state from the chain: round, last finalized, peers, validators, and an account's rewards",
    )
    .option("--network <file>", `network file (cotrain join format); default ${LOCAL_TESTNET_JOIN_FILE} when it exists`)
    .option("--rpc <url>", "JSON-RPC endpoint (env COTRAIN_RPC)")
    .option("--contract <address>", "TrainingRun address (env COTRAIN_CONTRACT)")
    .option("--deployment <file>", "deployment JSON from `cotrain deploy --out`")
    .option("--address <address>", "show this account's registration, stake and rewards")
    .option("--key <file>", "or the account of this key file (0x hex key, or a keystore's address field)")
    .option("--json", "print one JSON object instead of text")
    .action(async (f: StatusFlags) => {
      const s = await readStatus(f);
      if (f.json) {
        console.log(JSON.stringify(s));
        return;
      }
      console.log(`chain ${s.chainId} at ${s.rpc}, block ${s.block}`);
      const round =
        s.round === null
          ? `not started (genesis in ${s.roundEndsIn} s)`
          : `round ${s.round} (ends in ${s.roundEndsIn} s of ${s.roundSeconds})`;
      console.log(`run ${s.contract}: ${round}, last finalized ${s.lastFinalized ?? "none"}`);
      if (s.lastModelHash) console.log(`model hash after round ${s.lastFinalized}: ${s.lastModelHash}`);
      console.log(`peers ${s.peers}, validators ${s.validators} (total stake ${s.totalStake})`);
      if (s.account) {
        const a = s.account;
        console.log(
          `account ${a.address}: ${a.peerIndex === null ? "not a peer" : `peer #${a.peerIndex} (rating ${a.rating})`}, stake ${a.stake}, rewards ${a.pendingRewards} pending / ${a.claimedRewards} claimed, balance ${a.balance}`,
        );
      }
    });
}
