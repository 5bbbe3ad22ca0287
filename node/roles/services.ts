import type { Logger } from "pino";
import type { Checkpointer } from "./checkpointer.ts";
import type { Heartbeat } from "./status.ts";
import type { RoleOptions } from "./options.ts";
import type { Publisher } from "./publisher.ts";
import type { RoundKeeper } from "./round-keeper.ts";
import type { ScoreBook } from "./score-book.ts";
import type { Scorer } from "./scorer.ts";
import type { StateStore } from "./state-store.ts";
import type { RoundTrainer } from "./trainer.ts";
import type { ValidatorChain } from "./validator-chain.ts";
import type { PeerRegistry, RoundTimes } from "./views.ts";

/**
 * What each role's round loop is handed by `openRunContext` (the one assembly point): small services,
 * each built with only the components it uses. peer.ts and validator.ts read these top to bottom as
 * the round of DESIGN.md; nothing here is the whole node.
 */

/** Services both roles use. */
export interface RoundServices {
  logger: Logger;
  clock: RoundTimes;
  options: Pick<RoleOptions, "gatherGraceMs" | "retryDelayMs">;
  state: StateStore;
  keeper: RoundKeeper;
  heartbeat: Heartbeat;
}

export interface PeerServices extends RoundServices {
  options: Pick<RoleOptions, "gatherGraceMs" | "retryDelayMs" | "minTrainSeconds">;
  /** Registers this node as a peer (with its multiaddrs) unless it already is. */
  register(): Promise<void>;
  trainer: RoundTrainer;
  publisher: Publisher;
}

export interface ValidatorServices extends RoundServices {
  /** Stakes up to the run's minimum when below it. */
  stake(): Promise<void>;
  peers: PeerRegistry;
  scorer: Scorer;
  scores: ScoreBook;
  chainWriter: ValidatorChain;
  checkpointer: Checkpointer;
  /** Payload hashes announced in the 8 rounds before `round` (replay detection). */
  earlierPayloads(round: number): Map<string, { round: number; address: string }>;
}
