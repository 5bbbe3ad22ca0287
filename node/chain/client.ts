import {
  Contract,
  type ContractRunner,
  type ContractTransactionResponse,
  type Provider,
  type TransactionReceipt,
  formatEther,
  getAddress,
  isCallException,
  isError,
  toUtf8Bytes,
} from "ethers";
import { hexToBytes } from "../hash/index.ts";
import { loadArtifact } from "./artifact.ts";
import { decodeBitmap, encodeComponents, encodePayloads, encodeScores } from "./encoding.ts";
import { ChainError, configRevertError } from "./errors.ts";
import { decodeRunEvent } from "./events.ts";
import { type ChainClientOptions, defaultChainClientOptions } from "./options.ts";
import type { ConfigTimelineEntry, RunParams, ScoreSubmission, TxResult } from "./types.ts";

/** Where a round stands on chain (the contract's RoundStatus). */
export type RoundStatus = "open" | "finalizing" | "finalized" | "skipped";
const ROUND_STATUS: readonly RoundStatus[] = ["open", "finalizing", "finalized", "skipped"];

/** A registry slot as the contract keeps it (peerInfo). */
export interface PeerSlot {
  /** Holder's address; the zero address for a free slot. */
  account: string;
  registeredRound: number;
  rating: number;
  strikes: number;
  proven: boolean;
}

/** What finalizeRound did: every step's transaction, and whether the round was skipped (no quorum). */
export interface FinalizeResult extends TxResult {
  steps: TxResult[];
  skipped: boolean;
}

export interface ChainClientDependencies {
  /** A signer (ethers Wallet connected to a provider) for writes, or a provider for read-only use. */
  runner: ContractRunner;
}

type TxSender = () => Promise<ContractTransactionResponse>;

/**
 * Typed wrapper over TrainingRun. The ABI comes from the compiled artifact at runtime; this class
 * gives each function the TypeScript signature the roles use (numbers for rounds and indices, bigint
 * for wei) and turns reverts into ChainError with the decoded custom error.
 */
export class TrainingRunClient {
  readonly address: string;
  readonly contract: Contract;
  private readonly opts: ChainClientOptions;
  private readonly runner: ContractRunner;
  /** Writes are serialized so one signer never races itself for a nonce. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: Partial<ChainClientOptions> & { address: string }, deps: ChainClientDependencies) {
    this.opts = { ...defaultChainClientOptions, ...options };
    this.address = options.address;
    this.runner = deps.runner;
    this.contract = new Contract(this.address, loadArtifact("TrainingRun", this.opts.artifactPath).abi, deps.runner);
  }

  get provider(): Provider {
    const p = this.runner.provider;
    if (!p) throw new ChainError("BAD_PARAMS", "the client's runner has no provider");
    return p;
  }

  // ------------------------------------------------------------------ writes

  /**
   * Registers the signer as a peer, locking the run's bond (read from the chain unless `bondWei` is
   * given); resolves with its registry index.
   */
  async registerPeer(
    metadata: Uint8Array | string = new Uint8Array(),
    opts: { bondWei?: bigint } = {},
  ): Promise<TxResult & { index: number }> {
    const bytes = typeof metadata === "string" ? toUtf8Bytes(metadata) : metadata;
    const value = opts.bondWei ?? (await this.runParams()).peerBond;
    const { result, receipt } = await this.send("registerPeer", () => this.call("registerPeer", [bytes], { value }));
    const ev = this.findEvent(receipt, "PeerRegistered");
    return { ...result, index: ev?.name === "PeerRegistered" ? ev.args.index : -1 };
  }

  /** Leaves the registry; resolves with the bond refunded (0 when it was forfeited). */
  async exitPeer(): Promise<TxResult & { refund: bigint }> {
    const { result, receipt } = await this.send("exitPeer", () => this.call("exitPeer", []));
    const ev = this.findEvent(receipt, "PeerExited");
    return { ...result, refund: ev?.name === "PeerExited" ? ev.args.refund : 0n };
  }

  stake(amountWei: bigint): Promise<TxResult> {
    return this.sendResult("stake", () => this.call("stake", [], { value: amountWei }));
  }

  requestUnstake(): Promise<TxResult> {
    return this.sendResult("requestUnstake", () => this.call("requestUnstake", []));
  }

  withdraw(): Promise<TxResult> {
    return this.sendResult("withdraw", () => this.call("withdraw", []));
  }

  /**
   * Encodes and submits a validator's verdict on `s.round` (inside its scoring window): its model hash,
   * the payload list it aggregated (the contract commits to its keccak256, the payload root), scores
   * and components.
   */
  submitScores(s: ScoreSubmission): Promise<TxResult> {
    const payloads = encodePayloads(s.payloads);
    const scores = encodeScores(s.scores);
    const components =
      s.components || s.roundComponents?.length
        ? encodeComponents(s.components ?? [], s.roundComponents)
        : new Uint8Array();
    return this.sendResult("submitScores", () =>
      this.call("submitScores", [s.round, s.modelHash, payloads, scores, components]),
    );
  }

  /** One finalize step over at most `maxPeers` registry slots; `done` once the round is finalized or skipped. */
  async finalizeRoundStep(
    round: number,
    maxPeers = this.opts.finalizePageSize,
  ): Promise<TxResult & { done: boolean; skipped: boolean }> {
    const { result, receipt } = await this.send("finalizeRoundStep", () =>
      this.call("finalizeRoundStep", [round, maxPeers]),
    );
    const skipped = this.findEvent(receipt, "RoundSkipped") !== null;
    return { ...result, done: skipped || this.findEvent(receipt, "RoundFinalized") !== null, skipped };
  }

  /**
   * Finalizes `round` completely: finalizeRoundStep with `pageSize` slots per transaction until the
   * round is finalized or skipped. A step that reverts (e.g. someone else finished the round first)
   * throws; the caller checks the round's status.
   */
  async finalizeRound(round: number, opts: { pageSize?: number } = {}): Promise<FinalizeResult> {
    const steps: TxResult[] = [];
    for (;;) {
      const step = await this.finalizeRoundStep(round, opts.pageSize);
      steps.push({ hash: step.hash, blockNumber: step.blockNumber, gasUsed: step.gasUsed });
      if (step.done) return { ...steps[steps.length - 1], steps, skipped: step.skipped };
    }
  }

  recordCheckpoint(round: number, modelHash: string, uri: string): Promise<TxResult> {
    return this.sendResult("recordCheckpoint", () => this.call("recordCheckpoint", [round, modelHash, uri]));
  }

  /** Mints the signer's pending rewards to it; resolves with the amount claimed. */
  async claim(): Promise<TxResult & { amount: bigint }> {
    const { result, receipt } = await this.send("claim", () => this.call("claim", []));
    const ev = this.findEvent(receipt, "Claimed");
    return { ...result, amount: ev?.name === "Claimed" ? ev.args.amount : 0n };
  }

  /**
   * Appends `configHash` (sha256 of the new run config, 0x hex) to the run's config timeline, in effect
   * from `fromRound` (at least the current round + 2, after the last entry's round). Only the operator.
   * A refusal is a one-line ChainError: NOT_OPERATOR (names the sender and the operator),
   * CONFIG_TOO_SOON (names the earliest round), CONFIG_NOT_AFTER_LAST, BAD_CONFIG_HASH; nothing changes.
   */
  async appendConfig(fromRound: number, configHash: string): Promise<TxResult & ConfigTimelineEntry> {
    if (!Number.isSafeInteger(fromRound) || fromRound < 0) {
      throw new ChainError("BAD_PARAMS", `appendConfig: fromRound ${fromRound} is not a non-negative integer`);
    }
    if (!/^0x[0-9a-fA-F]{64}$/.test(configHash) || /^0x0{64}$/.test(configHash)) {
      throw new ChainError(
        "BAD_CONFIG_HASH",
        `appendConfig: config hash ${configHash} is not 32 non-zero bytes of 0x hex`,
      );
    }
    const hash = configHash.toLowerCase();
    try {
      const { result } = await this.send("appendConfig", () => this.call("appendConfig", [fromRound, hash]));
      return { ...result, fromRound, configHash: hash };
    } catch (err) {
      const sender = await this.signerAddress().catch(() => "the signer");
      const operator = await this.owner().catch(() => "(unknown)");
      throw configRevertError(err, { fromRound, configHash: hash, sender, operator });
    }
  }

  /** Starts handing the operator role to `account` (Ownable2Step): it has it once it calls acceptOwnership(). */
  transferOwnership(account: string): Promise<TxResult> {
    return this.sendResult("transferOwnership", () => this.call("transferOwnership", [account]));
  }

  /** The pending operator takes the role over. */
  acceptOwnership(): Promise<TxResult> {
    return this.sendResult("acceptOwnership", () => this.call("acceptOwnership", []));
  }

  /**
   * Gas the signer's `method(...args)` would use now, without sending it (a dry run): a call that would
   * revert throws ChainError with the decoded custom error, as a send would.
   */
  async estimateGas(method: string, args: unknown[] = [], overrides: { value?: bigint } = {}): Promise<bigint> {
    try {
      return await this.contract.getFunction(method).estimateGas(...args, overrides);
    } catch (err) {
      throw this.mapError(method, err);
    }
  }

  // ------------------------------------------------------------------ views

  async runParams(): Promise<RunParams> {
    const p = await this.view("runParams");
    return {
      configHash: p.configHash,
      genesis: Number(p.genesis),
      roundSeconds: Number(p.roundSeconds),
      submissionSeconds: Number(p.submissionSeconds),
      scoringSeconds: Number(p.scoringSeconds),
      unstakeDelay: Number(p.unstakeDelay),
      gatherSize: Number(p.gatherSize),
      maxPeers: Number(p.maxPeers),
      maxValidators: Number(p.maxValidators),
      validatorShareBps: Number(p.validatorShareBps),
      ratingAlphaBps: Number(p.ratingAlphaBps),
      outlierBps: Number(p.outlierBps),
      evictAfterRounds: Number(p.evictAfterRounds),
      rewardPerRound: p.rewardPerRound,
      minStake: p.minStake,
      peerBond: p.peerBond,
    };
  }

  /** The run's operator (the contract's owner): the only account that may append configs (the deployer at first). */
  owner(): Promise<string> {
    return this.view("owner");
  }

  /** The account the operator role is being handed to (transferOwnership), or null. */
  async pendingOwner(): Promise<string | null> {
    const a: string = await this.view("pendingOwner");
    return /^0x0{40}$/.test(a) ? null : a;
  }

  /**
   * The run's config timeline, entry 0 (round 0, the deploy-time configHash) first, fromRound strictly
   * increasing; hashes 0x lowercase. At most maxConfigEntries entries (else TIMELINE_TOO_LONG).
   */
  async configTimeline(): Promise<ConfigTimelineEntry[]> {
    const count = Number(await this.view("configCount"));
    if (count > this.opts.maxConfigEntries) {
      throw new ChainError(
        "TIMELINE_TOO_LONG",
        `the config timeline of ${this.address} has ${count} entries, more than maxConfigEntries ${this.opts.maxConfigEntries}`,
      );
    }
    const entries = await Promise.all(Array.from({ length: count }, (_, i) => this.view("configAt", i)));
    return entries.map(([fromRound, configHash]) => ({
      fromRound: Number(fromRound),
      configHash: String(configHash).toLowerCase(),
    }));
  }

  /** Hash (0x lowercase) of the run config in effect at `round`. */
  async configHashAt(round: number): Promise<string> {
    return String(await this.view("configHashAt", round)).toLowerCase();
  }

  async currentRound(): Promise<number> {
    return Number(await this.view("currentRound"));
  }

  async scoringWindow(round: number): Promise<{ opensAt: number; closesAt: number }> {
    const [opensAt, closesAt] = await this.view("scoringWindow", round);
    return { opensAt: Number(opensAt), closesAt: Number(closesAt) };
  }

  async submissionDeadline(round: number): Promise<number> {
    return Number(await this.view("submissionDeadline", round));
  }

  rewardToken(): Promise<string> {
    return this.view("rewardToken");
  }

  isPeer(account: string): Promise<boolean> {
    return this.view("isPeer", account);
  }

  /** Registry index of `account`, or null if it is not a peer. */
  async peerIndex(account: string): Promise<number | null> {
    if (!(await this.isPeer(account))) return null;
    return Number(await this.view("peerIndex", account));
  }

  /** Registry slots, held or freed (indices run 0 … peerCount − 1). */
  async peerCount(): Promise<number> {
    return Number(await this.view("peerCount"));
  }

  /** Slots held by a peer now. */
  async activePeerCount(): Promise<number> {
    return Number(await this.view("activePeerCount"));
  }

  /** Holder of slot `index` (the zero address for a freed slot). */
  peerAt(index: number): Promise<string> {
    return this.view("peerAt", index);
  }

  /** Every slot's holder by index; freed slots hold the zero address. */
  async peers(): Promise<string[]> {
    return [...(await this.view("peers"))];
  }

  async peerInfo(index: number): Promise<PeerSlot> {
    const p = await this.view("peerInfo", index);
    return {
      account: p.account,
      registeredRound: Number(p.registeredRound),
      rating: Number(p.rating),
      strikes: Number(p.strikes),
      proven: p.proven,
    };
  }

  /** EMA rating of peer `index` (score units × 256). */
  async peerRating(index: number): Promise<number> {
    return Number(await this.view("peerRating", index));
  }

  isValidator(account: string): Promise<boolean> {
    return this.view("isValidator", account);
  }

  async stakeOf(account: string): Promise<{ amount: bigint; withdrawableAt: number }> {
    const [amount, at] = await this.view("stakeOf", account);
    return { amount, withdrawableAt: Number(at) };
  }

  async activeValidators(): Promise<{ count: number; totalStake: bigint }> {
    const [count, totalStake] = await this.view("activeValidators");
    return { count: Number(count), totalStake };
  }

  /**
   * `round`'s stake snapshot (stake just before its scoring window opens): early finalize needs a
   * submission from every one of these validators; a canonical outcome needs more than half the stake.
   */
  async roundSnapshot(round: number): Promise<{ validators: number; totalStake: bigint }> {
    const [validators, totalStake] = await this.view("roundSnapshot", round);
    return { validators: Number(validators), totalStake };
  }

  /** `account`'s weight in `round` (0: not in its snapshot, cannot submit). */
  stakeAt(account: string, round: number): Promise<bigint> {
    return this.view("stakeAt", account, round);
  }

  async roundStatus(round: number): Promise<RoundStatus> {
    return ROUND_STATUS[Number(await this.view("roundStatus", round))];
  }

  hasSubmitted(round: number, validator: string): Promise<boolean> {
    return this.view("hasSubmitted", round, validator);
  }

  async submissionCount(round: number): Promise<number> {
    return Number(await this.view("submissionCount", round));
  }

  /** Canonical H(θ_{round+1}) of a finalized round, or null. */
  async modelHashOf(round: number): Promise<string | null> {
    const h: string = await this.view("modelHashOf", round);
    return /^0x0+$/.test(h) ? null : h;
  }

  /** Canonical payload root of a finalized round, or null. */
  async payloadRootOf(round: number): Promise<string | null> {
    const h: string = await this.view("payloadRootOf", round);
    return /^0x0+$/.test(h) ? null : h;
  }

  /** The finalization in progress (round, pass 1-3, next slot, slots), or null. */
  async finalizationProgress(): Promise<{ round: number; pass: number; cursor: number; slots: number } | null> {
    const [active, round, pass, cursor, slots] = await this.view("finalizationProgress");
    return active ? { round: Number(round), pass: Number(pass), cursor: Number(cursor), slots: Number(slots) } : null;
  }

  /** Bonds forfeited so far (evictions and exits not in good standing). */
  forfeitedBonds(): Promise<bigint> {
    return this.view("forfeitedBonds");
  }

  /** The last finalized or skipped round, or null. */
  async lastFinalizedRound(): Promise<number | null> {
    const [exists, round] = await this.view("lastFinalizedRound");
    return exists ? Number(round) : null;
  }

  /** Gather set finalized with `round` (for round + 1), or null before any finalization (= all peers). */
  async lastGatherSet(): Promise<{ round: number; members: number[] } | null> {
    const [exists, round, bitmap] = await this.view("lastGatherSet");
    if (!exists) return null;
    return { round: Number(round), members: decodeBitmap(hexToBytes(bitmap, "lastGatherSet.bitmap")) };
  }

  async latestCheckpoint(): Promise<{ round: number; modelHash: string } | null> {
    const [exists, round, modelHash] = await this.view("latestCheckpoint");
    return exists ? { round: Number(round), modelHash } : null;
  }

  pendingRewards(account: string): Promise<bigint> {
    return this.view("pendingRewards", account);
  }

  /** Reward-token balance of `account`. */
  async tokenBalance(account: string): Promise<bigint> {
    const token = new Contract(await this.rewardToken(), loadArtifact("RewardToken").abi, this.runner);
    return token.balanceOf(account) as Promise<bigint>;
  }

  // ------------------------------------------------------------------ plumbing

  // biome-ignore lint/suspicious/noExplicitAny: ethers returns untyped Results; each caller narrows.
  private async view(fn: string, ...args: unknown[]): Promise<any> {
    try {
      return await this.contract.getFunction(fn).staticCall(...args);
    } catch (err) {
      throw this.mapError(fn, err);
    }
  }

  /**
   * Sends `method(...args)` with a gas limit of the estimate plus gasMarginBps and 25k gas. Without a
   * margin a transaction estimated against the latest block can run out of gas in the block it lands
   * in: anyone may register a peer in between (finalize then covers one more slot) and the gas of some
   * paths depends on block.timestamp (measured on anvil with a 1 s block time: both happened).
   */
  private async call(method: string, args: unknown[], overrides: { value?: bigint } = {}) {
    const fn = this.contract.getFunction(method);
    const estimate = await fn.estimateGas(...args, overrides);
    const gasLimit = estimate + (estimate * BigInt(this.opts.gasMarginBps)) / 10_000n + 25_000n;
    return fn.send(...args, { ...overrides, gasLimit });
  }

  private async signerAddress(): Promise<string> {
    const runner = this.runner as { getAddress?: () => Promise<string> };
    if (!runner.getAddress) throw new ChainError("BAD_PARAMS", "the client has no signer");
    return getAddress(await runner.getAddress());
  }

  private async sendResult(label: string, sender: TxSender): Promise<TxResult> {
    return (await this.send(label, sender)).result;
  }

  /** Serialized send + wait with retries; see waitForTx. */
  private send(label: string, sender: TxSender): Promise<{ result: TxResult; receipt: TransactionReceipt }> {
    const run = this.queue.then(() => this.waitForTx(label, sender));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Sends a transaction and waits for `confirmations`. A transient failure to send (network/RPC
   * error) is retried with backoff; a receipt timeout keeps waiting on the same transaction (a resend
   * could land twice). A revert is decoded and thrown at once: resending cannot change it.
   */
  async waitForTx(label: string, sender: TxSender): Promise<{ result: TxResult; receipt: TransactionReceipt }> {
    for (let attempt = 1; ; attempt++) {
      const tx = await this.withRetries(label, sender);
      try {
        const receipt = await this.withRetries(label, async () => {
          const r = await tx.wait(this.opts.confirmations, this.opts.txTimeoutMs).catch((err: unknown) => {
            if (isCallException(err) && err.receipt && err.receipt.gasUsed === tx.gasLimit) {
              throw new ChainError("OUT_OF_GAS", `${label}: ${tx.hash} used all of its ${tx.gasLimit} gas`);
            }
            throw err;
          });
          if (!r) throw new ChainError("TX_FAILED", `${label}: no receipt for ${tx.hash}`);
          return r;
        });
        return { result: { hash: receipt.hash, blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed }, receipt };
      } catch (err) {
        // The state moved between the estimate and the block (on anvil with a 1 s block time a peer's
        // registration landed first and the first finalize then had a slot, and fresh storage, more):
        // estimate again and resend. Any other revert is final.
        if (err instanceof ChainError && err.code === "OUT_OF_GAS" && attempt < this.opts.txRetries) continue;
        throw err;
      }
    }
  }

  private async withRetries<T>(label: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const mapped = this.mapError(label, err);
        if (mapped.code === "CONTRACT_REVERT" || !isTransient(err) || attempt >= this.opts.txRetries) throw mapped;
        await new Promise((r) => setTimeout(r, 250 * 2 ** (attempt - 1)));
      }
    }
  }

  private mapError(label: string, err: unknown): ChainError {
    if (err instanceof ChainError) return err;
    if (isCallException(err)) {
      let revert = err.revert ? { name: err.revert.name, args: [...err.revert.args] } : undefined;
      if (!revert && err.data) {
        const parsed = this.contract.interface.parseError(err.data);
        if (parsed) revert = { name: parsed.name, args: [...parsed.args] };
      }
      if (revert) {
        const args = revert.args.map((a) => String(a)).join(", ");
        return new ChainError("CONTRACT_REVERT", `${label} reverted: ${revert.name}(${args})`, revert);
      }
      return new ChainError("TX_FAILED", `${label} reverted: ${err.shortMessage}`);
    }
    if (isError(err, "INSUFFICIENT_FUNDS")) {
      // ethers says only "insufficient funds": name the account and what the call wanted to send.
      const raw = err.transaction?.from ?? (this.runner as { address?: string }).address;
      const from = typeof raw === "string" ? getAddress(raw) : "the signer";
      const value = BigInt(err.transaction?.value ?? 0n);
      return new ChainError(
        "INSUFFICIENT_FUNDS",
        `${label}: insufficient funds: ${from} cannot pay ${formatEther(value)} ETH plus gas (fund it, e.g. cotrain fund on a dev chain)`,
      );
    }
    const msg = err instanceof Error ? ((err as { shortMessage?: string }).shortMessage ?? err.message) : String(err);
    return new ChainError("TX_FAILED", `${label} failed: ${msg}`);
  }

  private findEvent(receipt: TransactionReceipt, name: string) {
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() !== this.address.toLowerCase()) continue;
      const ev = decodeRunEvent(this.contract.interface, log);
      if (ev?.name === name) return ev;
    }
    return null;
  }
}

/** Errors worth resending: the node or the network, not the transaction. */
function isTransient(err: unknown): boolean {
  return (
    isError(err, "NETWORK_ERROR") ||
    isError(err, "SERVER_ERROR") ||
    isError(err, "TIMEOUT") ||
    isError(err, "UNKNOWN_ERROR")
  );
}
