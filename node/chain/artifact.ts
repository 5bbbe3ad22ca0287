import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { InterfaceAbi } from "ethers";
import { ChainError } from "./errors.ts";

/** The parts of a Hardhat 3 artifact (`hh3-artifact-1`) the client needs. */
export interface ContractArtifact {
  contractName: string;
  abi: InterfaceAbi;
  bytecode: string;
}

/** Repository root, from this file's location (node/chain/ → ../../). */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Where `npx hardhat compile` writes a contract's artifact. */
export function artifactPath(contractName: string, root = ROOT): string {
  return `${root}artifacts/contracts/${contractName}.sol/${contractName}.json`;
}

const cache = new Map<string, ContractArtifact>();

/**
 * Reads a compiled contract from artifacts/ (a build output, not committed). The ABI is taken from
 * the artifact at runtime so the client always matches the compiled contract; a missing build is a
 * clear ChainError rather than an ENOENT.
 */
export function loadArtifact(
  contractName: "TrainingRun" | "RewardToken",
  file = artifactPath(contractName),
): ContractArtifact {
  const hit = cache.get(file);
  if (hit) return hit;
  let json: string;
  try {
    json = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new ChainError(
        "ARTIFACT_MISSING",
        `contract artifact not found: ${file} (run \`npx hardhat compile\` or \`npm run compile\` first)`,
      );
    }
    throw err;
  }
  const parsed = JSON.parse(json) as ContractArtifact;
  if (!Array.isArray(parsed.abi) || typeof parsed.bytecode !== "string") {
    throw new ChainError("ARTIFACT_MISSING", `not a Hardhat artifact: ${file}`);
  }
  cache.set(file, parsed);
  return parsed;
}
