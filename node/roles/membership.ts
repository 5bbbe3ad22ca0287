import { parseEther } from "ethers";
import type { Logger } from "pino";
import type { TrainingRunClient } from "../chain/index.ts";
import type { PeerRegistry } from "./views.ts";

/** Joining the run on chain, once at start: a peer registers (with its multiaddrs), a validator stakes. */

/** Registers this node as a peer unless it already is; the multiaddrs let every node dial it (discovery.ts). */
export async function ensureRegistered(deps: {
  address: string;
  multiaddrs: () => string[] | Promise<string[]>;
  client: Pick<TrainingRunClient, "isPeer" | "registerPeer">;
  peers: PeerRegistry;
  logger: Logger;
}): Promise<void> {
  if (!(await deps.client.isPeer(deps.address))) {
    const { index } = await deps.client.registerPeer(JSON.stringify({ multiaddrs: await deps.multiaddrs() }));
    deps.logger.info({ index }, "registered as a peer");
  }
  await deps.peers.refresh(true);
}

/** Tops this validator's stake up to max(`stake` setting, the run's minimum) when below the minimum. */
export async function ensureStaked(deps: {
  address: string;
  /** The operator's `stake` setting, in ether. */
  stake: string;
  minStake: bigint;
  client: Pick<TrainingRunClient, "stakeOf" | "stake">;
  logger: Logger;
}): Promise<void> {
  const { amount } = await deps.client.stakeOf(deps.address);
  const want = parseEther(deps.stake);
  if (amount >= deps.minStake && amount > 0n) return;
  // biome-ignore lint/complexity/useMathMinMax: bigint, Math.max does not apply
  const value = want > deps.minStake ? want : deps.minStake;
  await deps.client.stake(value - amount);
  deps.logger.info({ stake: value.toString() }, "staked as a validator");
}
