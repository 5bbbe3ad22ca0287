import type { Logger } from "pino";
import { sha256 } from "../hash/index.ts";
import { loadCheckpoint } from "../model/index.ts";
import type { P2PNode } from "../p2p/index.ts";
import type { BlobRepository } from "../store/index.ts";
import type { RecordedCheckpoint } from "./chain-view.ts";
import { RoleError } from "./errors.ts";
import type { ModelState } from "./state-store.ts";
import type { ChainReader } from "./views.ts";

export interface CheckpointLoaderDependencies {
  chain: Pick<ChainReader, "checkpoints" | "finalized">;
  blobs: Pick<BlobRepository, "get" | "put">;
  p2p: Pick<P2PNode, "fetchBlob">;
  logger: Logger;
}

/**
 * Loads recorded checkpoints (uri "blob:<sha256>") for catch-up. A checkpoint that fails to load — a uri
 * that is not a blob hash, a blob nobody serves, bytes that do not parse or hash to another model — is
 * never fatal (issue 13): the next older one is tried, and with none left the caller replays from θ_0.
 * A uri recorded again later for the same round is tried before the earlier one, so a valid record
 * replaces a bad one.
 */
export class CheckpointLoader {
  /** round:uri of checkpoints that can never load (bad uri, corrupt, wrong hash): not fetched again. */
  private readonly broken = new Set<string>();

  constructor(
    private readonly opts: { fetchTimeoutMs: number },
    private readonly deps: CheckpointLoaderDependencies,
  ) {}

  /** θ of the newest loadable checkpoint with `after` < its round ≤ `upTo` (state rounds), or null. */
  async newest(after: number, upTo: number): Promise<ModelState | null> {
    // newest round first; for one round the record made last first
    const candidates = this.deps.chain.checkpoints
      .map((cp, order) => ({ cp, order }))
      .filter(({ cp }) => cp.round + 1 > after && cp.round + 1 <= upTo)
      .sort((a, b) => b.cp.round - a.cp.round || b.order - a.order);
    for (const { cp } of candidates) {
      const key = `${cp.round}:${cp.uri}`;
      if (this.broken.has(key)) continue;
      try {
        return await this.load(cp);
      } catch (err) {
        if (!(err instanceof RoleError && err.code === "CHECKPOINT_UNAVAILABLE")) this.broken.add(key);
        this.deps.logger.warn(
          { round: cp.round, uri: cp.uri, err: (err as Error).message },
          "recorded checkpoint does not load; trying an older one",
        );
      }
    }
    return null;
  }

  private async load(cp: RecordedCheckpoint): Promise<ModelState> {
    const f = this.deps.chain.finalized.get(cp.round);
    if (f && f.modelHash !== cp.modelHash)
      invalid(cp, `records ${cp.modelHash.slice(0, 16)}…, round hash is ${f.modelHash}`);
    const m = /^blob:([0-9a-f]{64})$/.exec(cp.uri);
    if (!m) invalid(cp, `uri ${cp.uri.slice(0, 80)} is not blob:<sha256>`);
    const hash = m[1];
    let bytes = await this.deps.blobs.get(hash);
    if (bytes === undefined) {
      try {
        bytes = await this.deps.p2p.fetchBlob(hash, { timeoutMs: this.opts.fetchTimeoutMs * 3 });
      } catch (err) {
        throw new RoleError("CHECKPOINT_UNAVAILABLE", `checkpoint ${cp.uri}: ${(err as Error).message}`);
      }
    }
    if (sha256(bytes) !== hash) invalid(cp, `blob ${hash.slice(0, 16)}… has another sha256`);
    const checkpoint = loadCheckpoint(bytes, cp.modelHash);
    await this.deps.blobs.put(bytes, { kind: "checkpoint", round: cp.round + 1 }, hash);
    this.deps.logger.info({ round: cp.round + 1, hash: cp.modelHash }, "loaded on-chain checkpoint");
    return { round: cp.round + 1, params: checkpoint.params, hash: cp.modelHash };
  }
}

function invalid(cp: RecordedCheckpoint, detail: string): never {
  throw new RoleError("CHECKPOINT_INVALID", `checkpoint of round ${cp.round}: ${detail}`);
}
