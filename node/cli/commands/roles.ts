import type { Command } from "commander";
import { ConfigError, loadNodeConfig } from "../../config/index.ts";
import { IdentityError } from "../../identity/index.ts";
import { type Role, RoleError, type RoleHooks, openRunContext, runPeer, runValidator } from "../../roles/index.ts";
import { CliError } from "../errors.ts";
import { readPassword } from "../password.ts";
import { settingsFromNetworkFile } from "./network.ts";

export interface RoleFlags {
  config?: string;
  dataDir?: string;
  key?: string;
  passwordFile?: string;
  rpc?: string;
  deployment?: string;
  runConfig?: string;
  datasetDir?: string;
  datasetsRoot?: string;
  listen?: string[];
  bootstrap?: string[];
  announce?: string[];
  relay?: boolean;
  relayMaxReservations?: string;
  backend?: string;
  metricsPort?: string;
  logLevel?: string;
  stake?: string;
  network?: string;
}

const list = (v: string, prev: string[] = []) => [
  ...prev,
  ...v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
];

/** Flags shared by `cotrain peer`, `cotrain validator` and `cotrain join`. */
export function addNodeFlags(cmd: Command): Command {
  return cmd
    .option("--config <file>", "JSON file with any of these settings (flags > COTRAIN_* env > file > defaults)")
    .option("--data-dir <dir>", "state directory (LevelDB, multiaddrs.json)")
    .option("--key <file>", "participant key: keystore (cotrain keys new) or a 0x hex key file (dev chains)")
    .option("--password-file <file>", "keystore password file (else COTRAIN_PASSWORD, else a prompt)")
    .option("--rpc <url>", "Ethereum JSON-RPC endpoint")
    .option("--deployment <file>", "deployment JSON written by `cotrain deploy`")
    .option("--run-config <file>", "run config JSON (its hash must match the contract's configHash)")
    .option("--dataset-dir <dir>", "prepared dataset directory (built if missing)")
    .option(
      "--datasets-root <dir>",
      "folder of prepared datasets (npm run prepare-data); data stages name theirs by manifest hash",
    )
    .option("--listen <multiaddr>", "libp2p listen address (repeatable or comma-separated)", list)
    .option("--bootstrap <multiaddr>", "bootstrap peer multiaddr with /p2p/<id> (repeatable)", list)
    .option(
      "--announce <multiaddr>",
      "public address this node is reachable at, e.g. /ip4/<ip>/tcp/4001 (repeatable)",
      list,
    )
    .option("--relay", "serve as a circuit relay v2 for peers behind NAT (bounded: see --relay-max-reservations)")
    .option("--relay-max-reservations <n>", "reservations a relay holds at once (default 64)")
    .option("--backend <name>", "training engine: auto|webgpu (our WGSL engine on a GPU)|tensorflow|wasm|cpu (tfjs)")
    .option("--metrics-port <port>", "Prometheus /metrics port (0 = any free port, -1 = off)")
    .option("--log-level <level>", "fatal|error|warn|info|debug|trace");
}

/**
 * Validates the settings, assembles the node, runs the role until SIGINT/SIGTERM, closes in reverse.
 * `hooks` come from an embedding program (tests/fixtures/node-entry.ts); the cotrain CLI passes none.
 */
export async function runRole(role: Role, flags: RoleFlags, hooks?: RoleHooks): Promise<void> {
  const { config: file, metricsPort, relayMaxReservations, network: _network, ...rest } = flags;
  let config: ReturnType<typeof loadNodeConfig>;
  try {
    config = loadNodeConfig({
      flags: {
        ...rest,
        metricsPort: metricsPort === undefined ? undefined : Number(metricsPort),
        relayMaxReservations: relayMaxReservations === undefined ? undefined : Number(relayMaxReservations),
      },
      env: process.env,
      file,
    });
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`invalid configuration: ${err.message}`);
    throw err;
  }
  const ctx = await openRunContext(
    role,
    config,
    {},
    { password: () => readPassword({ passwordFile: config.passwordFile }), hooks },
  ).catch((err) => {
    if (err instanceof ConfigError) throw new CliError(`invalid configuration: ${err.message}`);
    if (err instanceof RoleError || err instanceof IdentityError) throw new CliError(err.message);
    throw err;
  });
  const stop = new AbortController();
  const onSignal = () => {
    ctx.logger.info("stopping");
    stop.abort();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    await (ctx.role === "peer" ? runPeer(ctx.services, stop.signal) : runValidator(ctx.services, stop.signal));
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await ctx.close();
  }
}

export function registerRoles(program: Command, hooks?: RoleHooks): void {
  addNodeFlags(
    program
      .command("peer")
      .description("run a peer: train H inner steps per round, publish SparseLoCo updates, apply the outer step"),
  ).action((flags: RoleFlags) => runRole("peer", flags, hooks));
  addNodeFlags(
    program
      .command("validator")
      .description("run a validator: score every update, submit scores, finalize rounds, publish checkpoints"),
  )
    .option("--stake <ether>", "stake deposited at start when not yet staked")
    .option(
      "--network <file>",
      "a published run's network file (as for cotrain join): supplies the deployment, run config, RPC and bootstrap peers",
    )
    .action(async (flags: RoleFlags) =>
      runRole("validator", flags.network ? await settingsFromNetworkFile(flags.network, flags) : flags, hooks),
    );
}
