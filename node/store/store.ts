import { BlobRepository } from "./blobs.ts";
import { type ChainCursor, createChainCursor } from "./chain-cursor.ts";
import { Db } from "./db.ts";
import { defaultStoreOptions, type StoreOptions } from "./options.ts";
import { PeerStateRepository } from "./peer-state.ts";
import { RatingRepository } from "./ratings.ts";
import { RoundRepository } from "./rounds.ts";
import { SubmissionRepository } from "./submissions.ts";

/** Minimal logger surface (pino's) so the store does not depend on the metrics module. */
export interface StoreLogger {
  info(obj: object, msg?: string): void;
}

export interface StoreDependencies {
  logger?: StoreLogger;
}

/** All repositories over one LevelDB; `close()` releases the lock. */
export class Store {
  readonly rounds: RoundRepository;
  readonly blobs: BlobRepository;
  readonly peerState: PeerStateRepository;
  readonly ratings: RatingRepository;
  readonly submissions: SubmissionRepository;
  readonly chainCursor: ChainCursor;

  private constructor(
    readonly db: Db,
    readonly options: StoreOptions,
    private readonly logger?: StoreLogger,
  ) {
    this.rounds = new RoundRepository(db);
    this.blobs = new BlobRepository(db);
    this.peerState = new PeerStateRepository(db, options.syncCommits);
    this.ratings = new RatingRepository(db);
    this.submissions = new SubmissionRepository(db);
    this.chainCursor = createChainCursor(db, "events");
  }

  static async open(
    opts: Partial<StoreOptions> & Pick<StoreOptions, "dataDir">,
    deps: StoreDependencies = {},
  ): Promise<Store> {
    const options: StoreOptions = { ...defaultStoreOptions, ...opts };
    const db = await Db.open(options.dataDir);
    deps.logger?.info({ dataDir: options.dataDir }, "store opened");
    return new Store(db, options, deps.logger);
  }

  /** Another named cursor (e.g. one per contract). */
  cursor(name: string): ChainCursor {
    return createChainCursor(this.db, name);
  }

  /** Applies the retention window (options.blobRetentionRounds) as of `currentRound`. */
  async pruneBlobs(currentRound: number): Promise<number> {
    const n = await this.blobs.prune(currentRound, this.options.blobRetentionRounds);
    if (n > 0) this.logger?.info({ currentRound, deleted: n }, "pruned blobs");
    return n;
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
