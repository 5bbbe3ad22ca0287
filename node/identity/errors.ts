/** Typed errors of the identity module; `code` is stable for callers and tests. */
export type IdentityErrorCode =
  | "KEYSTORE_EXISTS"
  | "KEYSTORE_NOT_FOUND"
  | "WRONG_PASSWORD"
  | "BAD_KEYSTORE"
  | "NO_PASSWORD";

export class IdentityError extends Error {
  override name = "IdentityError";
  constructor(
    readonly code: IdentityErrorCode,
    message: string,
  ) {
    super(message);
  }
}
