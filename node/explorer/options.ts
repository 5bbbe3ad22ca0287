import { z } from "zod";
import { ExplorerError } from "./errors.ts";

const linkTemplate = (placeholder: string) =>
  z
    .string()
    .regex(/^https?:\/\//, "an http(s) URL")
    .refine((t) => t.includes(placeholder), `must contain ${placeholder}`);

/**
 * Options of the explorer. Link templates point txs and addresses at an external block explorer,
 * e.g. "https://sepolia.etherscan.io/tx/{hash}" and "https://sepolia.etherscan.io/address/{address}";
 * without them hashes are shown as plain text (a local anvil has no block explorer).
 */
export const explorerOptionsSchema = z
  .object({
    /** HTTP port; 0 picks a free one. */
    port: z.number().int().min(0).max(65_535).default(8080),
    host: z.string().min(1).default("127.0.0.1"),
    rpcUrl: z.string().regex(/^(https?|wss?):\/\//, "an http(s) or ws(s) URL"),
    /** TrainingRun address. */
    contract: z.string().regex(/^0x[0-9a-fA-F]{40}$/, "a 0x-prefixed 20-byte address"),
    /** Deployment block: where indexing starts on an empty cursor. */
    fromBlock: z.number().int().nonnegative().default(0),
    /** Persist indexed events + cursor in a LevelDB here (the explorer's own directory); memory only without. */
    dataDir: z.string().min(1).optional(),
    txLinkTemplate: linkTemplate("{hash}").optional(),
    addressLinkTemplate: linkTemplate("{address}").optional(),
    /** How often to poll the chain for new events. */
    pollMs: z.number().int().min(50).default(2000),
    /** Blocks per eth_getLogs (public RPCs cap the range). */
    batchSize: z.number().int().positive().default(2000),
    /** Stay this many blocks behind the head (reorg margin on public chains; 0 on a dev chain). */
    confirmations: z.number().int().nonnegative().default(0),
  })
  .strict();

export type ExplorerOptionsInput = z.input<typeof explorerOptionsSchema>;
export type ExplorerOptions = z.output<typeof explorerOptionsSchema>;

/** Validates once at start; the error names the offending field. */
export function parseExplorerOptions(input: unknown): ExplorerOptions {
  const res = explorerOptionsSchema.safeParse(input);
  if (!res.success) {
    const issues = res.error.issues.map((i) => `${i.path.join(".") || "options"}: ${i.message}`).join("; ");
    throw new ExplorerError("BAD_OPTIONS", `invalid explorer options: ${issues}`);
  }
  return res.data;
}
