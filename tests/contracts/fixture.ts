import assert from "node:assert/strict";
import type { Contract, ContractRunner } from "ethers";
import { network } from "hardhat";
import { encodePayloads } from "../../node/chain/encoding.ts";

/** ethers types `connect()` as BaseContract; the tests call ABI methods on the connected copy. */
export type RunContract = { connect(runner: ContractRunner | null): Contract } & Contract;

/** Shared setup of the TrainingRun contract tests (not a test file itself). */

export const ROUND = 100;
export const SUBMIT = 10;
export const SCORING = 40;
export const HASH_A = `0x${"aa".repeat(32)}`;
export const HASH_B = `0x${"bb".repeat(32)}`;
export const ONE = 10n ** 18n;
export const BOND = ONE / 10n;

export interface ParamOverrides {
  [key: string]: bigint | number | string;
}

export async function deployRun(overrides: ParamOverrides = {}) {
  const { ethers } = await network.create();
  const signers = await ethers.getSigners();
  const latest = await ethers.provider.getBlock("latest");
  const params = {
    configHash: `0x${"11".repeat(32)}`,
    genesis: latest!.timestamp + 1000,
    roundSeconds: ROUND,
    submissionSeconds: SUBMIT,
    scoringSeconds: SCORING,
    unstakeDelay: 500,
    gatherSize: 2,
    maxPeers: 16,
    maxValidators: 8,
    validatorShareBps: 1000,
    ratingAlphaBps: 5000,
    outlierBps: 2000,
    evictAfterRounds: 3,
    rewardPerRound: 1000n * ONE,
    minStake: ONE,
    peerBond: BOND,
    ...overrides,
  };
  const run = (await ethers.deployContract("TrainingRun", [
    params,
    "cotrain reward",
    "COTR",
  ])) as unknown as RunContract;
  const token = (await ethers.getContractAt("RewardToken", await run.rewardToken())) as unknown as RunContract;
  const genesis = Number(params.genesis);
  const setTime = async (t: number) => {
    await ethers.provider.send("evm_setNextBlockTimestamp", [t]);
    await ethers.provider.send("evm_mine", []);
  };
  /** Moves chain time so the next transaction's block has timestamp `t`. */
  const nextTxAt = (t: number) => ethers.provider.send("evm_setNextBlockTimestamp", [t]);
  const windowOf = (r: number) => {
    const opensAt = genesis + (r + 1) * ROUND + SUBMIT;
    return { opensAt, closesAt: opensAt + SCORING };
  };
  /** Registers `signer` as a peer with the run's bond. */
  const register = (signer: ContractRunner, metadata = "0x") =>
    run.connect(signer).registerPeer(metadata, { value: params.peerBond });
  /**
   * Finalizes `round` in pages of `page` slots until done; returns every step's receipt and whether
   * the round was skipped (a RoundSkipped event).
   */
  const finalize = async (round: number, page = 64) => {
    // biome-ignore lint/suspicious/noExplicitAny: decoded event args are ethers Results, read by name.
    const logs: { name: string; args: any }[] = [];
    const gas: bigint[] = [];
    for (let i = 0; i < 10_000; i++) {
      const rc = await (await run.finalizeRoundStep(round, page)).wait();
      gas.push(rc.gasUsed);
      for (const l of rc.logs) {
        const e = run.interface.parseLog(l);
        if (e) logs.push(e);
      }
      if (Number(await run.roundStatus(round)) >= 2) break; // Finalized or Skipped
    }
    return { logs, gas, steps: gas.length, skipped: logs.some((e) => e.name === "RoundSkipped") };
  };
  /** `n` fresh accounts holding 1000 ether each (hardhat has only 20 signers). */
  const wallets = async (n: number) => {
    const out = [];
    for (let i = 0; i < n; i++) {
      const w = ethers.Wallet.createRandom().connect(ethers.provider);
      await ethers.provider.send("hardhat_setBalance", [w.address, `0x${(1000n * ONE).toString(16)}`]);
      out.push(w);
    }
    return out;
  };
  return { ethers, signers, run, token, params, genesis, setTime, nextTxAt, windowOf, register, finalize, wallets };
}

/** A deterministic 32-byte payload hash for peer `index` in round `round` (stands in for a sha256). */
export function payloadHash(index: number, round = 0): string {
  return `0x${(index + 1).toString(16).padStart(4, "0")}${round.toString(16).padStart(4, "0")}${"cd".repeat(28)}`;
}

/** The payload list of the given peer indices (sorted (uint16 index, bytes32 hash) entries). */
export function payloads(indices: number[], round = 0): Uint8Array {
  return encodePayloads(indices.map((index) => ({ index, hash: payloadHash(index, round) })));
}

/** Big-endian uint16 per peer. */
export function scoresBytes(scores: number[]): Uint8Array {
  const out = new Uint8Array(scores.length * 2);
  scores.forEach((s, i) => {
    out[2 * i] = s >> 8;
    out[2 * i + 1] = s & 0xff;
  });
  return out;
}

export function bitmap(indices: number[], peers: number): Uint8Array {
  const out = new Uint8Array(Math.ceil(peers / 8));
  for (const i of indices) out[i >> 3] |= 1 << (i & 7);
  return out;
}

export function bitmapIndices(hex: string): number[] {
  const bytes = Buffer.from(hex.slice(2), "hex");
  const out: number[] = [];
  bytes.forEach((b, i) => {
    for (let bit = 0; bit < 8; bit++) if ((b >> bit) & 1) out.push(i * 8 + bit);
  });
  return out;
}

export function decodeScores(hex: string): number[] {
  const b = Buffer.from(hex.slice(2), "hex");
  const out: number[] = [];
  for (let i = 0; i + 1 < b.length; i += 2) out.push(b.readUInt16BE(i));
  return out;
}

// biome-ignore lint/suspicious/noExplicitAny: ethers contract/error shapes vary between call paths.
type AnyContract = { interface: { parseError(data: string): { name: string; args: any } | null } };

/** Asserts that `p` reverts with custom error `name` (decoded from the revert data). */
export async function reverts(p: Promise<unknown>, contract: AnyContract, name: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    const e = err as { revert?: { name: string }; data?: string; message?: string };
    let got = e.revert?.name;
    if (!got && typeof e.data === "string" && e.data.length >= 10) got = contract.interface.parseError(e.data)?.name;
    if (!got) got = /custom error '([A-Za-z0-9_]+)\(/.exec(e.message ?? "")?.[1];
    assert.equal(got, name, `expected ${name}, got ${got ?? e.message}`);
    return true;
  });
}
