import type { Logger } from "pino";
import type { P2PNode } from "../p2p/index.ts";
import type { DecodeOptions, ModelUpdate, TensorSpec, WarmupSettings } from "../sparseloco/index.ts";
import type { Announcement } from "./announcement.ts";
import type { UpdateInbox } from "./inbox.ts";
import type { RoundTimes } from "./views.ts";

/**
 * Hook points of the roles: behaviour an embedding program injects when it assembles a node
 * (`openRunContext(…, {hooks})`), such as the misbehaving peers of the adversary tests
 * (tests/fixtures/adversary.ts, started by tests/fixtures/node-entry.ts). The CLI injects none, and
 * the honest path runs the same code either way: a hook wraps a step, it is not a mode of the node.
 * Each hook is a factory taking the few components it may use (js-libp2p's `(components) => service`).
 */
export interface RoleHooks {
  /** Wraps how a peer sends its own update each round (default: `honestPublish`). */
  publish?: (components: PublishHookComponents) => PublishHook | Promise<PublishHook>;
  /** Runs inside each inner step of the peer's training (default: none), e.g. a knob that slows it down. */
  innerStep?: (components: InnerStepHookComponents) => InnerStepHook;
}

/**
 * Called with the step index after each inner step; the next step waits for a returned promise (on the
 * engine the roles use, which trains on a worker thread), so its time counts as part of the step: a
 * test's slow-step knob waits here like a slower accelerator would, and the node's networking runs on.
 */
export type InnerStepHook = (step: number) => void | Promise<void>;

/** What an inner-step hook may use. */
export interface InnerStepHookComponents {
  logger: Logger;
}

/** A peer's update for a round as the honest path built it, before anything was announced. */
export interface OwnUpdate {
  round: number;
  update: ModelUpdate;
  announcement: Announcement;
}

/** Stores `payload` (served by hash to whoever fetches it) and announces `ann` on gossip. */
export type SendUpdate = (ann: Announcement, payload: Uint8Array) => Promise<void>;

/**
 * Sends this round's update; returns the announcement the node treats as its own (its outer step then
 * sees what the network saw), or null when nothing was sent.
 */
export type PublishHook = (own: OwnUpdate, send: SendUpdate) => Promise<Announcement | null>;

export const honestPublish: PublishHook = async (own, send) => {
  await send(own.announcement, own.update.payload);
  return own.announcement;
};

/** What a publish hook may use: read the round's announcements and payloads, the clock, the run's layout. */
export interface PublishHookComponents {
  address: string;
  logger: Logger;
  clock: Pick<RoundTimes, "now" | "submissionDeadline">;
  inbox: Pick<UpdateInbox, "received">;
  p2p: Pick<P2PNode, "fetchPayload">;
  specs: readonly TensorSpec[];
  /** The run's decode settings; a round's own are `roundCompression(decode, round)` (EF warm-up rounds). */
  decode: DecodeOptions & WarmupSettings;
  /** Chain ids of the RPC endpoint and of the deployment file (a test hook refuses all but a dev chain). */
  chainId: { rpc: number; deployment: number };
}
