/** Typed errors of the roles: a code the operator can grep, a message that says what to do. */
export type RoleErrorCode =
  | "CONFIG_HASH_MISMATCH"
  | "DATASET_MISMATCH"
  | "CATCH_UP_FAILED" // an update the chain included could not be fetched
  | "REPLAY_MISMATCH" // our θ of a finalized round is not the one the chain's updates and hash build on
  | "CHECKPOINT_UNAVAILABLE"
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
