/** Typed errors of the roles: a code the operator can grep, a message that says what to do. */
export type RoleErrorCode =
  | "CONFIG_HASH_MISMATCH"
  | "DATASET_MISMATCH"
  | "CATCH_UP_FAILED"
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
