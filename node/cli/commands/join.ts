import type { Command } from "commander";
import { settingsFromNetworkFile } from "./network.ts";
import { type RoleFlags, addNodeFlags, runRole } from "./roles.ts";

/** `cotrain join FILE`: validate, check against the chain, write the deployment + run config into the data dir, run a peer. */
export async function runJoin(file: string, flags: RoleFlags): Promise<void> {
  await runRole("peer", await settingsFromNetworkFile(file, flags));
}

export function registerJoin(program: Command): void {
  addNodeFlags(
    program
      .command("join")
      .argument("<network.json>", "the run's network file (docs/join-a-testnet.md)")
      .description("join a published run as a peer: validate its network file, check it against the chain, then train"),
  ).action((file: string, flags: RoleFlags) => runJoin(file, flags));
}
