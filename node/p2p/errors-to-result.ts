import { TopicValidatorResult } from "@libp2p/gossipsub";
import { GossipAction, GossipValidationError } from "./errors.ts";

export interface ValidationOutcome {
  result: TopicValidatorResult;
  /** metric label: "ok" or the error code */
  reason: string;
}

/**
 * The one place where validation errors become gossipsub verdicts (Lodestar gossipValidatorFn.ts).
 * REJECT counts an invalid delivery (P4) against the propagating peer; IGNORE drops silently. An
 * unexpected exception is our bug, not the sender's, so it is ignored rather than punished.
 */
export function toValidationOutcome(err: unknown): ValidationOutcome {
  if (err === null || err === undefined) return { result: TopicValidatorResult.Accept, reason: "ok" };
  if (err instanceof GossipValidationError) {
    return {
      result: err.action === GossipAction.REJECT ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore,
      reason: err.code,
    };
  }
  return { result: TopicValidatorResult.Ignore, reason: "INTERNAL" };
}
