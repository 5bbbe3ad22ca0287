import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { sha256 } from "../hash/index.ts";
import { type Dataset, loadDataset, type Manifest, parseManifest } from "./dataset.ts";
import { DataError } from "./errors.ts";

/**
 * The folder that holds every prepared dataset, one sub-folder each (`npm run prepare-data` fills it:
 * .data/datasets/brown, .data/datasets/<second corpus>). Run configs name a dataset by the sha256 of its
 * manifest.json, never by folder, so a node finds it here wherever the operator put it.
 */
export const DEFAULT_DATASETS_ROOT = ".data/datasets";

/** A prepared dataset found under a root, with its manifest read but its shards not yet loaded. */
export interface DatasetEntry {
  /** Folder name under the root (e.g. "brown"). */
  readonly name: string;
  readonly dir: string;
  /** sha256 of manifest.json (64 lowercase hex): the name run configs use. */
  readonly manifestHash: string;
  readonly manifest: Manifest;
}

const MANIFEST_HASH = /^[0-9a-f]{64}$/;

/**
 * Every `root/<name>/manifest.json` that parses as a manifest, sorted by name. A folder without a
 * manifest, or with one that is not a valid manifest (a half-written or corrupt preparation), is skipped:
 * one broken folder must not hide the others. A missing root lists nothing.
 */
export function listDatasets(root: string): DatasetEntry[] {
  if (!existsSync(root)) return [];
  const out: DatasetEntry[] = [];
  for (const ent of readdirSync(root, { withFileTypes: true })) {
    if (!ent.isDirectory()) continue;
    const dir = path.join(root, ent.name);
    const file = path.join(dir, "manifest.json");
    if (!existsSync(file)) continue;
    const raw = readFileSync(file);
    try {
      out.push({ name: ent.name, dir, manifestHash: sha256(raw), manifest: parseManifest(raw) });
    } catch {
      // Corrupt manifest: not a dataset (loadDataset on that folder names the problem).
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The dataset whose manifest.json hashes to `manifestHash`, loaded with every shard verified. Throws
 * DataError "UNKNOWN_DATASET" naming the hash and the root when no folder under the root has it, and
 * "BAD_REQUEST" when the hash is not 64 lowercase hex.
 */
export function findDataset(root: string, manifestHash: string): Dataset {
  if (!MANIFEST_HASH.test(manifestHash))
    throw new DataError("BAD_REQUEST", `dataset hash ${JSON.stringify(manifestHash)} is not 64 lowercase hex`);
  const hit = listDatasets(root).find((d) => d.manifestHash === manifestHash);
  if (!hit)
    throw new DataError(
      "UNKNOWN_DATASET",
      `no dataset with manifest hash ${manifestHash} under ${root} (run npm run prepare-data)`,
    );
  return loadDataset(hit.dir);
}
