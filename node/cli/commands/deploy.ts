import { readFile, writeFile } from "node:fs/promises";
import type { Command } from "commander";
import type { Wallet } from "ethers";
import { ChainError, createProvider, deployTrainingRun, loadArtifact, parseDeployParams } from "../../chain/index.ts";
import { ConfigError, readRunConfig, runConfigHash } from "../../config/index.ts";
import { IdentityError, loadKeyFile } from "../../identity/index.ts";
import { CliError } from "../errors.ts";
import { readPassword } from "../password.ts";

export interface DeployCommandOptions {
  rpc: string;
  key: string;
  passwordFile?: string;
  config?: string;
  runConfig?: string;
  out?: string;
}

/**
 * Deploys RewardToken + TrainingRun to the chain at `rpc` and writes the deployment JSON
 * (chainId, address, token, block, configHash, params). Returns the deployment.
 */
export async function runDeploy(opts: DeployCommandOptions) {
  const input = (opts.config ? await readJson(opts.config) : {}) as Record<string, unknown>;
  if (opts.runConfig) {
    // The contract commits to the run config's hash: computed here, so no one-liner is needed.
    let hash: string;
    try {
      hash = runConfigHash(readRunConfig(opts.runConfig));
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(`invalid configuration: ${err.message}`);
      throw err;
    }
    if (typeof input.configHash === "string" && input.configHash.toLowerCase() !== hash) {
      throw new CliError(
        `invalid configuration: configHash: --config says ${input.configHash} but --run-config ${opts.runConfig} hashes to ${hash}`,
      );
    }
    input.configHash = hash;
  }
  const params = parseDeployParams(input);
  loadArtifact("TrainingRun"); // fail fast, before any network or password prompt, if not compiled
  const provider = createProvider(opts.rpc);
  try {
    await provider.getNetwork().catch(() => {
      throw new CliError(`cannot reach an Ethereum JSON-RPC endpoint at ${opts.rpc}`);
    });
    const signer = (await loadSigner(opts)).connect(provider);
    const deployment = await deployTrainingRun(signer, params).catch((err) => {
      if (err instanceof ChainError) throw new CliError(err.message);
      throw err;
    });
    const json = `${JSON.stringify(deployment, null, 2)}\n`;
    if (opts.out) await writeFile(opts.out, json);
    return deployment;
  } finally {
    provider.destroy();
  }
}

/** --key is an ethers JSON keystore (`cotrain keys new`), or for dev chains a file holding a 0x hex key. */
async function loadSigner(opts: DeployCommandOptions): Promise<Wallet> {
  try {
    return (await loadKeyFile(opts.key, () => readPassword(opts))).wallet;
  } catch (err) {
    if (err instanceof IdentityError) throw new CliError(err.message);
    throw err;
  }
}

async function readJson(file: string): Promise<unknown> {
  const text = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new CliError(`cannot read --config ${file}: ${err.code ?? err.message}`);
  });
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`--config ${file} is not JSON: ${(err as Error).message}`);
  }
}

export function registerDeploy(program: Command): void {
  program
    .command("deploy")
    .description("deploy the reward token and the TrainingRun contract to an EVM chain; prints the deployment JSON")
    .requiredOption("--rpc <url>", "JSON-RPC endpoint of the chain")
    .requiredOption(
      "--key <file>",
      "deployer key: an encrypted keystore (cotrain keys new), or a file with a 0x hex key for dev chains",
    )
    .option("--password-file <file>", "keystore password file (else COTRAIN_PASSWORD, else a prompt)")
    .option("--config <file>", "run parameters (params.json; see docs/contract.md); defaults otherwise")
    .option("--run-config <file>", "the run config: its hash becomes the contract's configHash")
    .option("--out <file>", "also write the deployment JSON to this file")
    .action(async (opts: DeployCommandOptions) => {
      const deployment = await runDeploy(opts).catch((err) => {
        if (err instanceof ChainError) throw new CliError(err.message);
        throw err;
      });
      console.log(JSON.stringify(deployment));
    });
}
