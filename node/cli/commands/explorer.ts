import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { ChainError } from "../../chain/index.ts";
import { ExplorerError, type ExplorerHandle, type ExplorerOptionsInput, startExplorer } from "../../explorer/index.ts";
import { createLogger } from "../../logger/index.ts";
import { StoreError } from "../../store/index.ts";
import { CliError } from "../errors.ts";

export interface ExplorerCommandOptions {
  rpc?: string;
  contract?: string;
  fromBlock?: string;
  deployment?: string;
  port: string;
  host: string;
  dataDir?: string;
  txLink?: string;
  addressLink?: string;
  pollMs: string;
}

/** --deployment FILE: the JSON `cotrain deploy --out` writes (address + deployment block). */
async function readDeployment(file: string): Promise<{ address?: unknown; block?: unknown }> {
  const text = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new CliError(`cannot read --deployment ${file}: ${err.code ?? err.message}`);
  });
  try {
    return JSON.parse(text) as { address?: unknown; block?: unknown };
  } catch (err) {
    throw new CliError(`--deployment ${file} is not JSON: ${(err as Error).message}`);
  }
}

const int = (flag: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new CliError(`${flag} must be a non-negative integer, got "${v}"`);
  return Number(v);
};

/** Flags > COTRAIN_RPC / COTRAIN_CONTRACT env > --deployment file; validated by the explorer's schema. */
export async function explorerOptionsFromCli(
  opts: ExplorerCommandOptions,
  env = process.env,
): Promise<ExplorerOptionsInput> {
  const dep = opts.deployment ? await readDeployment(opts.deployment) : {};
  const rpcUrl = opts.rpc ?? env.COTRAIN_RPC;
  const contract = opts.contract ?? env.COTRAIN_CONTRACT ?? (typeof dep.address === "string" ? dep.address : undefined);
  if (!rpcUrl) throw new CliError("--rpc is required (or COTRAIN_RPC)");
  if (!contract) throw new CliError("--contract is required (or --deployment FILE, or COTRAIN_CONTRACT)");
  return {
    rpcUrl,
    contract,
    fromBlock: int("--from-block", opts.fromBlock) ?? (typeof dep.block === "number" ? dep.block : 0),
    port: int("--port", opts.port),
    host: opts.host,
    dataDir: opts.dataDir,
    txLinkTemplate: opts.txLink,
    addressLinkTemplate: opts.addressLink,
    pollMs: int("--poll-ms", opts.pollMs),
  };
}

/** Starts the explorer; the caller closes it. Errors become one-line CliErrors. */
export async function runExplorer(opts: ExplorerCommandOptions): Promise<ExplorerHandle> {
  const input = await explorerOptionsFromCli(opts);
  const logger = createLogger({ name: "explorer" });
  try {
    return await startExplorer(input, { logger });
  } catch (err) {
    if (err instanceof ExplorerError || err instanceof ChainError || err instanceof StoreError)
      throw new CliError(err.message);
    throw err;
  }
}

export function registerExplorer(program: Command): void {
  program
    .command("explorer")
    .description("serve a web explorer of a TrainingRun: rounds, scores, rewards and claims, from chain events")
    .option("--rpc <url>", "JSON-RPC endpoint of the chain (env COTRAIN_RPC)")
    .option("--contract <address>", "TrainingRun address (env COTRAIN_CONTRACT)")
    .option("--deployment <file>", "deployment JSON from `cotrain deploy --out` (address and start block)")
    .option("--from-block <n>", "first block to index (default: the deployment's block, else 0)")
    .option("--port <n>", "HTTP port (0 = any free port)", "8080")
    .option("--host <addr>", "interface to listen on", "127.0.0.1")
    .option("--data-dir <dir>", "persist indexed events here (the explorer's own directory); memory only without")
    .option(
      "--tx-link <template>",
      'external block-explorer URL for transactions, e.g. "https://sepolia.etherscan.io/tx/{hash}"',
    )
    .option(
      "--address-link <template>",
      'external block-explorer URL for addresses, e.g. "https://sepolia.etherscan.io/address/{address}"',
    )
    .option("--poll-ms <n>", "chain polling period in milliseconds", "2000")
    .action(async (opts: ExplorerCommandOptions) => {
      const explorer = await runExplorer(opts);
      console.log(`explorer: ${explorer.url}`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      await explorer.close();
    });
}
