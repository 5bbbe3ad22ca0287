import { JsonRpcProvider } from "ethers";

export interface ProviderOptions {
  /** How often ethers polls for new blocks / receipts (its default, 4 s, is slow on a dev chain). */
  pollingIntervalMs?: number;
}

/**
 * A JsonRpcProvider set up for a node that sends transactions back to back: ethers' 250 ms result
 * cache is off, since it would hand a second transaction the nonce the first one already used.
 */
export function createProvider(rpcUrl: string, opts: ProviderOptions = {}): JsonRpcProvider {
  return new JsonRpcProvider(rpcUrl, undefined, {
    cacheTimeout: -1,
    pollingInterval: opts.pollingIntervalMs ?? 1000,
  });
}
