import type { Logger } from "pino";
import type { TrainingRunClient } from "../chain/index.ts";
import { hash32Bytes, hash32To0x } from "../hash/index.ts";
import { type GPTConfig, saveCheckpoint } from "../model/index.ts";
import type { P2PNode } from "../p2p/index.ts";
import type { BlobRepository } from "../store/index.ts";
import type { ModelState } from "./state-store.ts";
import type { ChainReader } from "./views.ts";

export interface CheckpointerDependencies {
  model: GPTConfig;
  chain: ChainReader;
  blobs: Pick<BlobRepository, "put">;
  p2p: Pick<P2PNode, "publishCheckpoint">;
  client: Pick<TrainingRunClient, "recordCheckpoint">;
  logger: Logger;
}

/**
 * Every K finalized rounds a validator publishes θ_{r+1} as a safetensors blob, announces it on the
 * checkpoints topic and records `blob:<sha256>` on chain: a joining peer starts there instead of θ_0.
 */
export class Checkpointer {
  constructor(
    private readonly opts: { every: number },
    private readonly deps: CheckpointerDependencies,
  ) {}

  /** Publishes `state` (θ_{r+1}) when round r is finalized with its hash, r+1 is a multiple of K and no newer one exists. */
  async maybeCheckpoint(state: ModelState): Promise<void> {
    const { chain } = this.deps;
    const r = state.round - 1;
    const f = chain.finalized.get(r);
    if (!f || state.round % this.opts.every !== 0 || f.modelHash !== state.hash) return;
    if (chain.checkpoint && chain.checkpoint.round >= r) return;
    const bytes = saveCheckpoint(this.deps.model, state.params, state.round);
    const hash = await this.deps.blobs.put(bytes, { kind: "checkpoint", round: state.round });
    await this.deps.p2p.publishCheckpoint({
      round: r,
      modelHash: hash32Bytes(state.hash),
      payloadHash: hash32Bytes(hash),
      payloadBytes: bytes.length,
      uri: `blob:${hash}`,
    });
    await this.deps.client.recordCheckpoint(r, hash32To0x(state.hash), `blob:${hash}`);
    this.deps.logger.info({ round: r, bytes: bytes.length, blob: hash.slice(0, 16) }, "checkpoint recorded");
  }
}
