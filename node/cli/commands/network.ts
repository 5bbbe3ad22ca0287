import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ChainError, TrainingRunClient, createProvider } from "../../chain/index.ts";
import { ConfigError, loadNodeConfig, uncoveredEntries } from "../../config/index.ts";
import { type LoadedNetwork, loadNetworkFile } from "../../testnet/network-file.ts";
import { CliError } from "../errors.ts";
import type { RoleFlags } from "./roles.ts";

/** Validates a network file without touching the network; ConfigErrors become one-line CLI errors. */
export function readNetworkFile(path: string): LoadedNetwork {
  try {
    return loadNetworkFile(path);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`invalid configuration: ${err.message}`);
    throw err;
  }
}

/**
 * Checks the network file against the chain before anything runs: the RPC answers with the file's
 * chain id, the contract is there, and its configHash is the run config's (so this peer trains the
 * same model as everyone else). Resolves with the run's parameters.
 */
export async function checkNetworkOnChain(net: LoadedNetwork, rpc: string) {
  const provider = createProvider(rpc);
  try {
    const network = await provider.getNetwork().catch(() => {
      throw new CliError(`cannot reach an Ethereum JSON-RPC endpoint at ${rpc}`);
    });
    if (Number(network.chainId) !== net.file.chainId) {
      throw new CliError(
        `invalid configuration: network.chainId: the file says ${net.file.chainId} but ${rpc} is chain ${network.chainId}`,
      );
    }
    if ((await provider.getCode(net.file.contract)) === "0x") {
      throw new CliError(
        `invalid configuration: network.contract: no contract at ${net.file.contract} on chain ${network.chainId}`,
      );
    }
    const client = new TrainingRunClient({ address: net.file.contract }, { runner: provider });
    const params = await client.runParams().catch((err) => {
      throw new CliError(
        `invalid configuration: network.contract: ${net.file.contract} is not a TrainingRun (${err instanceof ChainError ? err.message : err})`,
      );
    });
    // The file carries the run's newest config: every config the contract's timeline holds must be it
    // truncated to some number of data stages (docs/stages.md), or a node on it stops at that entry.
    const timeline = await client.configTimeline();
    const missing = uncoveredEntries(net.run, timeline);
    if (missing.length > 0 && missing[0] === timeline[0]) {
      throw new CliError(
        `invalid configuration: network.configHash: the file says ${net.file.configHash} but the contract holds ${params.configHash}`,
      );
    }
    if (missing.length > 0) {
      throw new CliError(
        `invalid configuration: network.runConfig: the contract's config from round ${missing[0].fromRound} is ${missing[0].configHash}, which the file's run config does not cover (an outdated network file: get the run's newest)`,
      );
    }
    return params;
  } finally {
    provider.destroy();
  }
}

/**
 * Turns `--network FILE` into the settings a node runs with (for `cotrain join` and `cotrain validator
 * --network`): validates the file, checks it against the chain, writes its deployment and run config into
 * `<data dir>/network/`, and returns the flags with rpc, deployment, runConfig and bootstrap filled in.
 */
export async function settingsFromNetworkFile(file: string, flags: RoleFlags): Promise<RoleFlags> {
  const net = readNetworkFile(file);
  const rpc = flags.rpc ?? process.env.COTRAIN_RPC ?? net.file.rpc;
  // The data dir (and every other setting) resolves as for `cotrain peer`; the network file supplies
  // the deployment, the run config, the RPC and the bootstrap list.
  let dataDir: string;
  try {
    dataDir = loadNodeConfig({
      flags: {
        ...flags,
        config: undefined,
        metricsPort: undefined,
        network: undefined,
        rpc,
        deployment: "-",
        runConfig: "-",
      },
      env: process.env,
      file: flags.config,
    }).dataDir;
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`invalid configuration: ${err.message}`);
    throw err;
  }
  const params = await checkNetworkOnChain(net, rpc);
  const dir = join(dataDir, "network");
  mkdirSync(dir, { recursive: true });
  const deployment = join(dir, "deployment.json");
  const runConfig = join(dir, "run.json");
  const deploymentJson = {
    chainId: net.file.chainId,
    address: net.file.contract,
    token: net.file.token ?? "",
    block: net.file.deploymentBlock,
    transactionHash: "",
    deployer: "",
    configHash: net.file.configHash,
    params,
  };
  // Amounts (rewardPerRound, minStake, peerBond, …) are bigint wei: written as decimal strings.
  const json = JSON.stringify(deploymentJson, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2);
  writeFileSync(deployment, `${json}\n`);
  writeFileSync(runConfig, `${JSON.stringify(net.run, null, 2)}\n`);
  return { ...flags, rpc, deployment, runConfig, bootstrap: [...net.file.bootstrap, ...(flags.bootstrap ?? [])] };
}
