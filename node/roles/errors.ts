/** Typed errors of the roles: a code the operator can grep, a message that says what to do. */
export type RoleErrorCode =
  | "CONFIG_HASH_MISMATCH"
  | "DATASET_MISMATCH"
  | "CONFIG_UNKNOWN" // a config the chain put in force is not covered by this node's run config file
  | "DATASET_UNKNOWN" // a stage in force names a dataset this node has not prepared
  | "CATCH_UP_FAILED" // an update the chain included could not be fetched
  | "REPLAY_MISMATCH" // our θ of a finalized round is not the one the chain's updates and hash build on
  | "CHECKPOINT_UNAVAILABLE" // a recorded checkpoint's blob could not be fetched (now): tried again later
  | "CHECKPOINT_INVALID" // a recorded checkpoint can never load (bad uri, corrupt, another model hash)
  | "STOPPED";

export class RoleError extends Error {
  override name = "RoleError";
  constructor(
    readonly code: RoleErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Errors no retry can fix: the round loop ends and the node stops with the message (loop.ts). */
export const FATAL_ROLE_ERRORS: ReadonlySet<RoleErrorCode> = new Set<RoleErrorCode>([
  "CONFIG_HASH_MISMATCH",
  "CONFIG_UNKNOWN",
  "DATASET_UNKNOWN",
]);
