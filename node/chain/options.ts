import { z } from "zod";

/** Options of the TrainingRun client. */
export interface ChainClientOptions {
  /** TrainingRun address. */
  address: string;
  /** Confirmations to wait for per transaction (1 on a dev chain; more on a public testnet). */
  confirmations: number;
  /** Tries per transaction for transient failures (RPC/network errors, timeouts); reverts are never retried. */
  txRetries: number;
  /** Milliseconds to wait for a receipt before a try counts as failed. */
  txTimeoutMs: number;
  /** Path of the TrainingRun artifact; default artifacts/contracts/TrainingRun.sol/TrainingRun.json. */
  artifactPath?: string;
  /**
   * Registry slots per finalizeRoundStep transaction. The default keeps the worst case at the largest
   * deployable run (1024 peers × 32 validators) under 10M gas (tests/contracts/TrainingRun.caps.test.ts).
   */
  finalizePageSize: number;
  /** Extra gas over each transaction's estimate, in basis points (plus a fixed 25k). */
  gasMarginBps: number;
  /**
   * Most config timeline entries configTimeline() reads (one call each): the operator could append without
   * end, and a node reads the timeline every round. A longer timeline is a ChainError TIMELINE_TOO_LONG.
   */
  maxConfigEntries: number;
}

export const defaultChainClientOptions: Omit<ChainClientOptions, "address"> = {
  confirmations: 1,
  txRetries: 3,
  txTimeoutMs: 60_000,
  finalizePageSize: 64,
  gasMarginBps: 2500,
  maxConfigEntries: 256,
};

/** Options of the event indexer. */
export interface IndexerOptions {
  /** First block to read when the cursor is empty (the deployment block). */
  fromBlock: number;
  /** Blocks per eth_getLogs request (public RPCs cap the range). */
  batchSize: number;
  /** Stay this many blocks behind the head (reorg margin); 0 on a dev chain. */
  confirmations: number;
  /** Poll period of `start()`. */
  pollIntervalMs: number;
}

export const defaultIndexerOptions: IndexerOptions = {
  fromBlock: 0,
  batchSize: 2000,
  confirmations: 0,
  pollIntervalMs: 2000,
};

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "a 0x-prefixed 32-byte hex string");
const decimal = z.union([z.string().regex(/^\d+(\.\d+)?$/), z.number().nonnegative()]).transform(String);

/**
 * Deployment parameters as written in a params.json (`cotrain deploy --config`). Token amounts are
 * decimal strings in whole units (ether for stake, tokens for rewards); times are seconds.
 */
export const deployParamsSchema = z
  .object({
    configHash: hex32.default(`0x${"00".repeat(32)}`),
    /** Unix seconds of round 0; default: the latest block's timestamp + genesisDelaySeconds. */
    genesis: z.number().int().nonnegative().optional(),
    genesisDelaySeconds: z.number().int().nonnegative().default(0),
    roundSeconds: z.number().int().positive().default(600),
    submissionSeconds: z.number().int().nonnegative().default(60),
    scoringSeconds: z.number().int().positive().default(300),
    /** Seconds from requestUnstake to withdraw; the contract requires at least 3 rounds. */
    unstakeDelay: z.number().int().nonnegative().default(86_400),
    gatherSize: z.number().int().min(1).max(64).default(16),
    /** Registry slots; at most 1024 (the contract's bound for per-transaction finalize gas). */
    maxPeers: z.number().int().min(1).max(1024).default(1024),
    /** Validator slots; at most 32 (the contract's bound for per-transaction finalize gas). */
    maxValidators: z.number().int().min(1).max(32).default(32),
    validatorShareBps: z.number().int().min(0).max(10_000).default(1000),
    ratingAlphaBps: z.number().int().min(1).max(10_000).default(2500),
    /** A validator's mean |score − median| above this share of the score range forfeits its reward. */
    outlierBps: z.number().int().min(0).max(10_000).default(2000),
    /** Consecutive zero-median rounds after which a peer is evicted (bond forfeited). */
    evictAfterRounds: z.number().int().min(1).max(65_535).default(8),
    rewardPerRound: decimal.default("100"),
    minStake: decimal.default("1"),
    /** Bond a peer locks to register, in ether; 0 only on a dev chain (chain id 31337). */
    peerBond: decimal.default("0.1"),
    tokenName: z.string().min(1).default("cotrain reward"),
    tokenSymbol: z.string().min(1).default("COTR"),
  })
  .strict()
  .refine((p) => p.submissionSeconds < p.roundSeconds, { message: "submissionSeconds must be < roundSeconds" })
  .refine((p) => p.scoringSeconds <= p.roundSeconds, { message: "scoringSeconds must be <= roundSeconds" })
  .refine((p) => p.unstakeDelay >= 3 * p.roundSeconds, { message: "unstakeDelay must be >= 3 * roundSeconds" })
  .refine((p) => p.gatherSize <= p.maxPeers, { message: "gatherSize must be <= maxPeers" });

export type DeployParamsInput = z.input<typeof deployParamsSchema>;
export type DeployParams = z.output<typeof deployParamsSchema>;

/**
 * Chain id of a local development chain (anvil's and Hardhat's default). Only there may a run use a zero
 * peer bond, nodes dial private addresses, and tests inject adversaries.
 */
export const DEV_CHAIN_ID = 31337;
