import type { Command } from "commander";
import { IdentityError, createKeystore, loadKeystore } from "../../identity/index.ts";
import { CliError } from "../errors.ts";
import { readPassword } from "../password.ts";

interface KeysOpts {
  passwordFile?: string;
}

export function registerKeys(program: Command): void {
  const keys = program
    .command("keys")
    .description("create and inspect participant keys (one key: Ethereum address + libp2p PeerId)");

  keys
    .command("new")
    .description("write a new encrypted keystore (ethers JSON keystore, mode 0600)")
    .requiredOption("--out <file>", "keystore file to create (never overwritten)")
    .option("--password-file <file>", "read the password from a file (else COTRAIN_PASSWORD, else a prompt)")
    .action(async (opts: KeysOpts & { out: string }) => {
      const password = await readPassword(opts, "New keystore password: ");
      const id = await createKeystore(opts.out, password).catch(mapIdentityError);
      console.log(JSON.stringify({ file: opts.out, address: id.address, peerId: id.peerId.toString() }));
    });

  keys
    .command("show")
    .description("print the address and PeerId of a keystore")
    .argument("<file>", "keystore file")
    .option("--password-file <file>", "read the password from a file (else COTRAIN_PASSWORD, else a prompt)")
    .action(async (file: string, opts: KeysOpts) => {
      const password = await readPassword(opts);
      const id = await loadKeystore(file, password).catch(mapIdentityError);
      console.log(JSON.stringify({ address: id.address, peerId: id.peerId.toString() }));
    });
}

function mapIdentityError(err: unknown): never {
  if (err instanceof IdentityError) throw new CliError(err.message);
  throw err;
}
