import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { type Dataset, findDataset, loadDataset, prepareDataset } from "../data/index.ts";
import { sha256 } from "../hash/index.ts";

export interface DatasetResolverOptions {
  /** A node config's single prepared dataset (the run's one dataset before stages existed). */
  datasetDir: string;
  /** Where every prepared dataset lives, one folder each (node/data/catalog.ts). */
  datasetsRoot: string;
}

/**
 * The prepared dataset for a manifest hash, loaded once: `datasetDir` when its manifest has that hash
 * (old node configs keep working), else the catalog under `datasetsRoot`. A run without a manifest hash
 * (undefined) trains on `datasetDir`, prepared from Brown on first use as before stages existed; so is a
 * fresh machine whose `datasetDir` is not prepared yet, before the catalog is searched.
 */
export function datasetResolver(
  opts: DatasetResolverOptions,
  deps: { logger: Pick<Logger, "info"> },
): (manifestHash: string | undefined) => Dataset {
  const loaded = new Map<string, Dataset>();
  const manifest = join(opts.datasetDir, "manifest.json");
  let local: Dataset | undefined;
  const localDataset = (): Dataset => {
    if (!local) {
      if (!existsSync(manifest)) {
        deps.logger.info({ dir: opts.datasetDir }, "preparing dataset");
        prepareDataset(opts.datasetDir);
      }
      local = loadDataset(opts.datasetDir);
      loaded.set(local.manifestHash, local);
    }
    return local;
  };
  return (hash) => {
    if (hash === undefined) return localDataset();
    const hit = loaded.get(hash);
    if (hit) return hit;
    if (!existsSync(manifest) || sha256(readFileSync(manifest)) === hash) {
      const d = localDataset();
      if (d.manifestHash === hash) return d;
    }
    const d = findDataset(opts.datasetsRoot, hash);
    loaded.set(hash, d);
    return d;
  };
}
