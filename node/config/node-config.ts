import { readFileSync } from "node:fs";
import { multiaddr } from "@multiformats/multiaddr";
import { z } from "zod";
import { backendChoices } from "../model/options.ts";
import { ConfigError } from "./errors.ts";

/**
 * One process's settings (peer or validator). Sources, highest first: command-line flags, environment
 * (COTRAIN_<FIELD> in upper snake case, e.g. COTRAIN_RPC, COTRAIN_METRICS_PORT), a JSON config file
 * (--config), then these defaults. Validated once at start; an error names the field.
 */
export const nodeConfigSchema = z
  .object({
    /** LevelDB state, logs, multiaddrs file. One process per data dir (LevelDB's lock enforces it). */
    dataDir: z.string().min(1).default(".data/node"),
    /** Keystore file (ethers JSON) or, on dev chains, a file holding a 0x hex private key. */
    key: z.string().min(1),
    passwordFile: z.string().optional(),
    /** Ethereum JSON-RPC endpoint. */
    rpc: z.string().url().default("http://127.0.0.1:8545"),
    /** Deployment JSON written by `cotrain deploy` (contract address, start block, chain id). */
    deployment: z.string().min(1),
    /** The run config JSON; its hash must equal the contract's configHash. */
    runConfig: z.string().min(1),
    /** Prepared dataset of a run without a manifest hash (built from Brown on first start if missing). */
    datasetDir: z.string().min(1).default(".data/datasets/brown"),
    /**
     * Folder of prepared datasets, one sub-folder each (`npm run prepare-data`): a run config names its
     * datasets (and data stages) by manifest hash, found here or in `datasetDir`.
     */
    datasetsRoot: z.string().min(1).default(".data/datasets"),
    listen: z.array(z.string()).default(["/ip4/0.0.0.0/tcp/4001"]),
    bootstrap: z.array(z.string()).default([]),
    /** Public addresses this node is reachable at (a relay's or validator's); advertised as they are. */
    announce: z.array(z.string().refine(isMultiaddr, "not a multiaddr, e.g. /ip4/203.0.113.7/tcp/4001")).default([]),
    /** Serve as a circuit relay v2 for peers behind NAT, within node/p2p's RelayServerLimits. */
    relay: z.boolean().default(false),
    /** Reservations a relay holds at once (each lets one NATed peer be reached through us). */
    relayMaxReservations: z.number().int().min(1).max(4096).default(64),
    /**
     * Dial loopback/private/link-local addresses found in registrations and announcements (a LAN test
     * network). Always on for a dev chain (chain id 31337); off otherwise, so that a registrant cannot
     * make every node dial into its operator's network (node/p2p/address-filter.ts).
     */
    allowPrivateAddresses: z.boolean().default(false),
    backend: z.enum(backendChoices).default("auto"),
    /** Prometheus /metrics port; 0 picks a free one, -1 disables. */
    metricsPort: z.number().int().min(-1).max(65535).default(-1),
    metricsHost: z.string().default("127.0.0.1"),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
    /** Validators: native-currency stake, in ether, deposited at start if not yet staked. */
    stake: z
      .string()
      .regex(/^\d+(\.\d+)?$/, "a decimal amount of ether")
      .default("1"),
  })
  .strict();

function isMultiaddr(s: string): boolean {
  try {
    multiaddr(s);
    return true;
  } catch {
    return false;
  }
}

export type NodeConfig = z.infer<typeof nodeConfigSchema>;
type Key = keyof NodeConfig;

const ARRAY_FIELDS: readonly Key[] = ["listen", "bootstrap", "announce"];
const NUMBER_FIELDS: readonly Key[] = ["metricsPort", "relayMaxReservations"];
const BOOLEAN_FIELDS: readonly Key[] = ["allowPrivateAddresses", "relay"];

function envName(field: string): string {
  return `COTRAIN_${field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** Values from COTRAIN_* variables, typed like the schema (lists comma-separated). */
export function nodeConfigFromEnv(env: NodeJS.ProcessEnv): Partial<Record<Key, unknown>> {
  const out: Partial<Record<Key, unknown>> = {};
  for (const field of Object.keys(nodeConfigSchema.shape) as Key[]) {
    const raw = env[envName(field)];
    if (raw === undefined || raw === "") continue;
    if (ARRAY_FIELDS.includes(field))
      out[field] = raw
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
    else if (NUMBER_FIELDS.includes(field)) out[field] = Number(raw);
    else if (BOOLEAN_FIELDS.includes(field))
      out[field] = raw === "true" || raw === "1" ? true : raw === "false" || raw === "0" ? false : raw;
    else out[field] = raw;
  }
  return out;
}

/** Merges flags > env > file > defaults and validates; throws ConfigError naming the bad field. */
export function loadNodeConfig(sources: {
  flags?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  file?: string;
}): NodeConfig {
  let fromFile: Record<string, unknown> = {};
  if (sources.file) {
    let text: string;
    try {
      text = readFileSync(sources.file, "utf8");
    } catch (err) {
      throw new ConfigError("config", `cannot read ${sources.file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
    try {
      fromFile = JSON.parse(text);
    } catch (err) {
      throw new ConfigError("config", `${sources.file} is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof fromFile !== "object" || fromFile === null || Array.isArray(fromFile)) {
      throw new ConfigError("config", `${sources.file} must hold a JSON object`);
    }
  }
  const flags = Object.fromEntries(Object.entries(sources.flags ?? {}).filter(([, v]) => v !== undefined));
  const merged = { ...fromFile, ...nodeConfigFromEnv(sources.env ?? {}), ...flags };
  const res = nodeConfigSchema.safeParse(merged);
  if (!res.success) throw ConfigError.fromZod(res.error);
  return res.data;
}

/** Reads and validates a run config file (JSON); the field path is prefixed with "runConfig". */
export function readJsonFile(path: string, field: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(field, e.code ? `cannot read ${path}: ${e.code}` : `${path} is not valid JSON: ${e.message}`);
  }
}
