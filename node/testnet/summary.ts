import type { TrainingRunClient } from "../chain/index.ts";
import type { NetworkObserver } from "./observer.ts";
import { parseHash32 } from "../hash/index.ts";

/** The last line `cotrain testnet --rounds N` prints (snake_case: the contract with scripts). */
export interface TestnetSummary {
  rounds_finalized: number;
  peers: number;
  validators: number;
  model_hash_agreed: boolean;
  heldout_loss_first: number | null;
  heldout_loss_last: number | null;
  explorer_url: string | null;
}

/**
 * Builds the summary for the last finalized round r: every node must have committed the same
 * H(θ_{r+1}) as the chain's RoundFinalized hash (logs carry a 16-hex prefix of it). Nodes finish their
 * outer step and the validator its "round scored" line a moment after finalization, so this waits up
 * to `waitMs` for the lines to appear before deciding.
 */
export async function buildSummary(
  observer: NetworkObserver,
  client: TrainingRunClient,
  explorerUrl: string | null,
  waitMs: number,
): Promise<{ summary: TestnetSummary; disagreeing: string[] }> {
  const last = observer.lastFinalized;
  const base = observer.baseFinalized ?? -1;
  let agreed = false;
  let disagreeing: string[] = [];
  if (last !== null) {
    const onChain = await client.modelHashOf(last);
    const chainHash = onChain === null ? "" : parseHash32(onChain, `modelHashOf(${last})`);
    const until = Date.now() + waitMs;
    for (;;) {
      observer.readLogs();
      const complete = observer.nodes.every((n) => n.hashes.has(last)) && observer.heldOut.has(last);
      if (complete || Date.now() > until) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    disagreeing = observer.nodes
      .filter((n) => !chainHash.startsWith(n.hashes.get(last) ?? "-"))
      .map((n) => `${n.name} (${n.hashes.get(last)?.slice(0, 16) ?? "no hash logged"})`);
    agreed = chainHash.length === 64 && disagreeing.length === 0;
  }
  const rounds = [...observer.heldOut.keys()]
    .filter((r) => r > base && (last === null || r <= last))
    .sort((a, b) => a - b);
  const summary: TestnetSummary = {
    rounds_finalized: observer.finalizedSinceStart,
    peers: observer.nodes.filter((n) => n.role === "peer").length,
    validators: observer.nodes.filter((n) => n.role === "validator").length,
    model_hash_agreed: agreed,
    heldout_loss_first: rounds.length ? (observer.heldOut.get(rounds[0]) ?? null) : null,
    heldout_loss_last: rounds.length ? (observer.heldOut.get(rounds[rounds.length - 1]) ?? null) : null,
    explorer_url: explorerUrl,
  };
  return { summary, disagreeing };
}
