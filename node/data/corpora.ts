import { brownCorpus } from "./brown.ts";
import type { Corpus } from "./corpus.ts";
import { DataError } from "./errors.ts";
import { ethersTsCorpus } from "./ethers-ts.ts";

/** Every bundled corpus, by name; `npm run prepare-data` prepares each into `<datasets root>/<name>`. */
export const CORPORA: Readonly<Record<string, Corpus>> = {
  [brownCorpus.name]: brownCorpus,
  [ethersTsCorpus.name]: ethersTsCorpus,
};

export const CORPUS_NAMES: readonly string[] = Object.keys(CORPORA);

export function corpusByName(name: string): Corpus {
  const c = Object.hasOwn(CORPORA, name) ? CORPORA[name] : undefined;
  if (!c)
    throw new DataError("NO_CORPUS", `unknown corpus ${JSON.stringify(name)} (one of ${CORPUS_NAMES.join(", ")})`);
  return c;
}
