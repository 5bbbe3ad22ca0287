/**
 * One-byte key prefixes, one per repository (Lodestar's `db/buckets.ts` pattern): every key is
 * `[bucket, ...rest]`, so one LevelDB holds all repositories and a range scan never crosses buckets.
 * Values are never renumbered: a store written by an older version must still read.
 */
export enum Bucket {
  /** round (u32 BE) -> RoundRecord JSON */
  rounds = 0x01,
  /** sha256 (32 bytes) -> blob bytes, whole: written by versions before chunked blobs, still read */
  blobData = 0x02,
  /** sha256 (32 bytes) -> BlobMeta JSON */
  blobMeta = 0x03,
  /** round (u32 BE) ++ sha256 -> empty: which blobs a round produced (replay, pruning) */
  blobRoundIndex = 0x04,
  /** sha256 ++ chunk index (u32 BE) -> BLOB_CHUNK_BYTES of the blob (the last chunk may be shorter) */
  blobChunks = 0x05,
  /** tensor name (utf8) -> raw little-endian float32: the master parameters θ_r */
  peerParams = 0x10,
  /** tensor name -> raw f32: the SparseLoCo error-feedback buffer */
  peerErrorFeedback = 0x11,
  /** "<slot>/<tensor name>" -> raw f32: optional optimizer state */
  peerOptimizer = 0x12,
  /** single key -> PeerStateMarker JSON (which round the stored tensors are the start of) */
  peerMarker = 0x13,
  /** peer address (lowercase utf8) -> PeerRating JSON */
  ratings = 0x20,
  /** round (u32 BE) ++ address -> score component JSON */
  scoreHistory = 0x21,
  /** cursor name (utf8) -> block number (u64 BE as 8 bytes) */
  chainCursor = 0x30,
  /** round (u32 BE) -> SubmissionRecord JSON */
  validatorSubmissions = 0x31,
}
