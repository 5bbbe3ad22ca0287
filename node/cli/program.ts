import { readFileSync } from "node:fs";
import { Command } from "commander";
import { registerDeploy } from "./commands/deploy.ts";
import { registerExplorer } from "./commands/explorer.ts";
import { registerKeys } from "./commands/keys.ts";
import type { RoleHooks } from "../roles/index.ts";
import { registerRoles } from "./commands/roles.ts";
import { registerDoctor } from "./commands/doctor.ts";
import { registerJoin } from "./commands/join.ts";
import { registerOperator } from "./commands/operator.ts";
import { registerPublish } from "./commands/publish.ts";
import { registerStatus } from "./commands/status.ts";
import { registerTestnet } from "./commands/testnet.ts";
import { registerWallet } from "./commands/wallet.ts";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

/**
 * Builds the `cotrain` command tree; each subcommand module registers itself here. `hooks` reach the
 * peer and validator commands (an embedding program's, e.g. tests/fixtures/node-entry.ts; none here).
 */
export function buildProgram(opts: { hooks?: RoleHooks } = {}): Command {
  const program = new Command("cotrain")
    .description("permissionless peer-to-peer language-model training (SparseLoCo over libp2p, scored on chain)")
    .version(pkg.version, "-V, --version")
    .option("--debug", "print stack traces on errors")
    .showHelpAfterError()
    .exitOverride();
  registerKeys(program);
  registerDeploy(program);
  registerPublish(program);
  registerExplorer(program);
  registerRoles(program, opts.hooks);
  registerJoin(program);
  registerTestnet(program);
  registerStatus(program);
  registerDoctor(program);
  registerWallet(program);
  registerOperator(program);
  return program;
}
