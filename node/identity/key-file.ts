import { readFile } from "node:fs/promises";
import { IdentityError } from "./errors.ts";
import { type Identity, identityFromPrivateKey } from "./identity.ts";
import { loadKeystore } from "./keystore.ts";

/**
 * Loads a participant key from a file: an ethers JSON keystore (`cotrain keys new`), or, for dev
 * chains, a file holding a bare 0x hex private key (no password asked).
 */
export async function loadKeyFile(file: string, password: () => Promise<string>): Promise<Identity> {
  const text = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new IdentityError("KEYSTORE_NOT_FOUND", `cannot read key file ${file}: ${err.code ?? err.message}`);
  });
  const raw = text.trim();
  if (/^0x[0-9a-fA-F]{64}$/.test(raw)) return identityFromPrivateKey(raw);
  return loadKeystore(file, await password());
}
