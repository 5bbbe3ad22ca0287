import { constants } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { Wallet, encryptKeystoreJson } from "ethers";
import { IdentityError } from "./errors.ts";
import { type Identity, identityFromPrivateKey } from "./identity.ts";

export interface KeystoreOptions {
  /** scrypt N exponent; ethers' default (2^17) is right for users, tests pass a small one. */
  scryptN?: number;
}

/** Writes a new encrypted keystore (ethers JSON v3) with mode 0600; refuses to overwrite. */
export async function createKeystore(file: string, password: string, opts: KeystoreOptions = {}): Promise<Identity> {
  if (password.length === 0) throw new IdentityError("NO_PASSWORD", "an empty password is not allowed");
  const wallet = Wallet.createRandom();
  const json = opts.scryptN
    ? await encryptKeystoreJson({ address: wallet.address, privateKey: wallet.privateKey }, password, {
        scrypt: { N: opts.scryptN },
      })
    : await wallet.encrypt(password);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_EXCL: atomic refuse-to-overwrite, no window between a check and the write.
    handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") {
      throw new IdentityError("KEYSTORE_EXISTS", `refusing to overwrite existing keystore ${file}`);
    }
    throw err;
  }
  try {
    await handle.writeFile(json);
  } finally {
    await handle.close();
  }
  return identityFromPrivateKey(wallet.privateKey);
}

/** Decrypts a keystore file; a wrong password is an IdentityError with code WRONG_PASSWORD. */
export async function loadKeystore(file: string, password: string): Promise<Identity> {
  let json: string;
  try {
    json = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new IdentityError("KEYSTORE_NOT_FOUND", `keystore not found: ${file}`);
    }
    throw err;
  }
  let wallet: Wallet;
  try {
    wallet = (await Wallet.fromEncryptedJson(json, password)) as Wallet;
  } catch (err) {
    const msg = (err as Error).message ?? "";
    if (/incorrect password/i.test(msg)) {
      throw new IdentityError("WRONG_PASSWORD", `wrong password for keystore ${file}`);
    }
    throw new IdentityError("BAD_KEYSTORE", `cannot read keystore ${file}: ${msg.split("(")[0].trim()}`);
  }
  return identityFromPrivateKey(wallet.privateKey);
}
