import type { Command } from "commander";
import { getAddress, isAddress } from "ethers";
import { type ConfigTimelineEntry, TrainingRunClient, configRevertError, createProvider } from "../../chain/index.ts";
import {
  ConfigError,
  type RunConfig,
  matchTimeline,
  readRunConfig,
  runConfigHash,
  runStages,
} from "../../config/index.ts";
import { CliError } from "../errors.ts";
import { type StatusFlags, resolveTarget } from "./status.ts";
import { type WalletFlags, addWalletFlags, estimateAndCheck, withRun } from "./wallet.ts";

/** Flags of `cotrain run append-config`. */
export interface AppendConfigFlags extends WalletFlags {
  runConfig: string;
  fromRound?: string;
}

/** What an operator command did (or, with --dry-run, would do). */
export interface OperatorResult {
  action: "append-config" | "transfer-operator" | "accept-operator";
  chainId: number;
  from: string;
  /** The TrainingRun. */
  run: string;
  /** append-config: the new timeline entry. */
  fromRound?: number;
  configHash?: string;
  /** transfer-operator: the account the role is handed to. */
  to?: string;
  gasEstimate: string;
  dryRun: boolean;
  tx?: string;
  block?: number;
}

/** A round number from the command line. */
export function parseRound(text: string, field = "from-round"): number {
  if (!/^\d{1,15}$/.test(text.trim())) throw new CliError(`${field}: "${text}" is not a round number`);
  return Number(text.trim());
}

/** Reads and hashes the new run config (runConfigHash: the hash nodes compare with the chain's). */
function readConfig(file: string) {
  try {
    const config = readRunConfig(file);
    return { config, hash: runConfigHash(config) };
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`invalid configuration: ${err.message}`);
    throw err;
  }
}

/**
 * The round the new config `run` takes effect: the startRound of its first stage the chain's timeline does
 * not cover yet. Each timeline entry must be the file's config truncated to some number of stages (more
 * for each later entry, docs/stages.md), each appended one starting at its first new stage's startRound;
 * anything else is refused with the entry, its round and hash named.
 */
export function deriveFromRound(run: RunConfig, file: string, timeline: readonly ConfigTimelineEntry[]): number {
  const stages = runStages(run);
  let covered = 0; // stages the timeline entries so far commit to
  for (const [k, { entry: e, stages: n }] of matchTimeline(run, timeline).entries()) {
    const entry = `timeline entry ${k} (from round ${e.fromRound}, ${e.configHash})`;
    if (n === 0) {
      throw new CliError(
        `run-config: ${file} does not extend the run's config: ${entry} is not ${file} with some of its stages (append stages to the config on chain, change nothing else)`,
      );
    }
    if (k > 0 && (n <= covered || stages[covered].startRound !== e.fromRound)) {
      throw new CliError(
        `run-config: ${file} disagrees with ${entry}: its stage ${covered} starts at round ${stages[covered]?.startRound}`,
      );
    }
    covered = n;
  }
  if (covered >= stages.length) {
    throw new CliError(
      `run-config: every stage of ${file} is already on the run's config timeline (${covered} stage(s))`,
    );
  }
  return stages[covered].startRound;
}

/**
 * `cotrain run append-config`: the operator appends the hash of a new run config (the config on chain
 * with data stages appended) to the run's config timeline, in effect from its first new stage's
 * startRound. Checked before anything is sent: the config extends the chain's, the key is the operator,
 * the round is at least the current round + 2 and after the last entry's (docs/contract.md "Config timeline").
 */
export async function runAppendConfig(f: AppendConfigFlags): Promise<OperatorResult> {
  const { config, hash } = readConfig(f.runConfig);
  const override = f.fromRound === undefined ? undefined : parseRound(f.fromRound);
  return withRun(f, async (s, client, wallet) => {
    const timeline = await client.configTimeline();
    const fromRound = deriveFromRound(config, f.runConfig, timeline);
    if (override !== undefined && override !== fromRound) {
      throw new CliError(
        `from-round: ${override} is not the round ${f.runConfig}'s first new stage starts (${fromRound}); edit the stage's startRound instead`,
      );
    }
    const operator = await client.owner();
    const ctx = { fromRound, configHash: hash, sender: wallet.address, operator };
    const { gas } = await estimateAndCheck(s, wallet, "append-config", 0n, () =>
      client.estimateGas("appendConfig", [fromRound, hash]).catch((err: unknown) => {
        throw configRevertError(err, ctx);
      }),
    );
    const base = { action: "append-config" as const, chainId: s.chainId, from: wallet.address, run: s.contract };
    const out = { ...base, fromRound, configHash: hash, gasEstimate: gas.toString() };
    if (f.dryRun) return { ...out, dryRun: true };
    const tx = await client.appendConfig(fromRound, hash);
    return { ...out, dryRun: false, tx: tx.hash, block: tx.blockNumber };
  });
}

/** `cotrain run transfer-operator ADDRESS`: starts handing the operator role over (the new one must accept). */
export async function runTransferOperator(toText: string, f: WalletFlags): Promise<OperatorResult> {
  if (!isAddress(toText)) throw new CliError(`address: "${toText}" is not a 0x-prefixed 20-byte address`);
  const to = getAddress(toText);
  return withRun(f, async (s, client, wallet) => {
    const operator = await client.owner();
    if (operator !== wallet.address) {
      throw new CliError(`${wallet.address} is not run ${s.contract}'s operator ${operator}`);
    }
    const { gas } = await estimateAndCheck(s, wallet, "transfer-operator", 0n, () =>
      client.estimateGas("transferOwnership", [to]),
    );
    const out = { action: "transfer-operator" as const, chainId: s.chainId, from: wallet.address, run: s.contract };
    const res = { ...out, to, gasEstimate: gas.toString() };
    if (f.dryRun) return { ...res, dryRun: true };
    const tx = await client.transferOwnership(to);
    return { ...res, dryRun: false, tx: tx.hash, block: tx.blockNumber };
  });
}

/** `cotrain run accept-operator`: the pending operator takes the role. */
export function runAcceptOperator(f: WalletFlags): Promise<OperatorResult> {
  return withRun(f, async (s, client, wallet) => {
    const pending = await client.pendingOwner();
    if (pending !== wallet.address) {
      throw new CliError(
        `${wallet.address} is not run ${s.contract}'s pending operator (${pending ?? "none"}; the operator runs cotrain run transfer-operator first)`,
      );
    }
    const { gas } = await estimateAndCheck(s, wallet, "accept-operator", 0n, () =>
      client.estimateGas("acceptOwnership"),
    );
    const out = { action: "accept-operator" as const, chainId: s.chainId, from: wallet.address, run: s.contract };
    const res = { ...out, gasEstimate: gas.toString() };
    if (f.dryRun) return { ...res, dryRun: true };
    const tx = await client.acceptOwnership();
    return { ...res, dryRun: false, tx: tx.hash, block: tx.blockNumber };
  });
}

/** `cotrain run timeline`: the run's operator and config timeline, read from the chain (no key needed). */
export async function runTimeline(f: StatusFlags): Promise<{
  run: string;
  operator: string;
  pendingOperator: string | null;
  timeline: ConfigTimelineEntry[];
}> {
  const { rpc, contract } = resolveTarget(f);
  const provider = createProvider(rpc);
  try {
    const client = new TrainingRunClient({ address: contract }, { runner: provider });
    const [operator, pendingOperator, timeline] = await Promise.all([
      client.owner(),
      client.pendingOwner(),
      client.configTimeline(),
    ]).catch((err: unknown) => {
      throw new CliError(`cannot read run ${contract}'s config timeline at ${rpc}: ${(err as Error).message}`);
    });
    return { run: contract, operator, pendingOperator, timeline };
  } finally {
    provider.destroy();
  }
}

/** One line for a terminal. */
export function describeOperatorResult(r: OperatorResult): string {
  const what = {
    "append-config": `config ${r.configHash} from round ${r.fromRound}`,
    "transfer-operator": `operator role offered to ${r.to} (it takes it with cotrain run accept-operator)`,
    "accept-operator": "operator role accepted",
  }[r.action];
  if (r.dryRun)
    return `dry run, nothing sent: ${r.action} ${what} on run ${r.run}, chain ${r.chainId} (gas ≈ ${r.gasEstimate})`;
  return `${r.from}: ${what} on run ${r.run}, chain ${r.chainId}, in tx ${r.tx} (block ${r.block})`;
}

export function registerOperator(program: Command): void {
  const run = program
    .command("run")
    .description("the run operator's commands: the config timeline and the operator role");
  const print = (f: WalletFlags) => (r: OperatorResult) => {
    console.log(f.json ? JSON.stringify(r) : describeOperatorResult(r));
  };
  addWalletFlags(
    run
      .command("append-config")
      .description("operator: append a new run config (e.g. a data stage added) to the run's config timeline")
      .requiredOption("--run-config <file>", "the new run config (its runConfigHash goes on chain)")
      .option(
        "--from-round <n>",
        "a check only: the round the new config takes effect is its first new stage's startRound (at least the current round + 2)",
      ),
  ).action((f: AppendConfigFlags) => runAppendConfig(f).then(print(f)));
  addWalletFlags(
    run
      .command("transfer-operator")
      .argument("<address>", "the new operator (it must accept)")
      .description("operator: offer the operator role to another account (Ownable2Step)"),
  ).action((to: string, f: WalletFlags) => runTransferOperator(to, f).then(print(f)));
  addWalletFlags(run.command("accept-operator").description("take the operator role offered to this key")).action(
    (f: WalletFlags) => runAcceptOperator(f).then(print(f)),
  );
  run
    .command("timeline")
    .description("print the run's operator and config timeline (fromRound, configHash) as JSON")
    .option("--network <file>", "network file (cotrain join format); default .data/testnet/join.json when it exists")
    .option("--contract <address>", "TrainingRun address (env COTRAIN_CONTRACT)")
    .option("--deployment <file>", "deployment JSON from `cotrain deploy --out`")
    .option("--rpc <url>", "JSON-RPC endpoint (env COTRAIN_RPC)")
    .action(async (f: StatusFlags) => {
      console.log(JSON.stringify(await runTimeline(f), null, 2));
    });
}
