/** Typed errors of the explorer; `code` is stable for callers and tests. */
export type ExplorerErrorCode =
  | "BAD_OPTIONS" // an option failed validation (the message names the field)
  | "CHAIN_UNREACHABLE" // no JSON-RPC answer at rpcUrl
  | "NO_CONTRACT" // no code at the contract address on that chain
  | "PORT_IN_USE"
  | "LISTEN_FAILED"
  | "ASSET_MISSING"; // chart.js or a public/ file is not where it should be

export class ExplorerError extends Error {
  override name = "ExplorerError";
  constructor(
    readonly code: ExplorerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
