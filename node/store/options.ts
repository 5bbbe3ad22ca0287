/** Options of the LevelDB store (`node/store/`). */
export interface StoreOptions {
  /** Directory holding the LevelDB files (created if missing). */
  dataDir: string;
  /**
   * Rounds of update blobs kept behind the current round. Older update blobs are pruned unless a
   * peer catching up from the newest checkpoint still needs them (see BlobRepository.prune).
   */
  blobRetentionRounds: number;
  /**
   * fsync the round commit (state + marker). A process crash never loses an acknowledged LevelDB write;
   * `sync` also covers power loss / kernel crash at the cost of one fsync per round.
   */
  syncCommits: boolean;
}

export const defaultStoreOptions: Omit<StoreOptions, "dataDir"> = {
  blobRetentionRounds: 16,
  syncCommits: true,
};
