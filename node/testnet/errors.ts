export type TestnetErrorCode = "NODE_EXITED" | "NO_PROGRESS" | "STOPPED";

/** A local-testnet failure; the message names the node and its log file where one is at fault. */
export class TestnetError extends Error {
  override name = "TestnetError";
  constructor(
    readonly code: TestnetErrorCode,
    message: string,
  ) {
    super(message);
  }
}
