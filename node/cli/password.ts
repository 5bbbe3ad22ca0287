import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { CliError } from "./errors.ts";

export interface PasswordSource {
  passwordFile?: string;
}

/** Password from --password-file, then COTRAIN_PASSWORD, then an interactive prompt (no echo). */
export async function readPassword(src: PasswordSource, prompt = "Password: "): Promise<string> {
  if (src.passwordFile) {
    const text = await readFile(src.passwordFile, "utf8").catch((err: NodeJS.ErrnoException) => {
      throw new CliError(`cannot read --password-file ${src.passwordFile}: ${err.code ?? err.message}`);
    });
    // A trailing newline from `echo pw > file` is not part of the password.
    return text.replace(/\r?\n$/, "");
  }
  const env = process.env.COTRAIN_PASSWORD;
  if (env !== undefined && env !== "") return env;
  if (!process.stdin.isTTY) {
    throw new CliError("no password: use --password-file FILE, set COTRAIN_PASSWORD, or run in a terminal");
  }
  return promptHidden(prompt);
}

function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
    const rlw = rl as unknown as { _writeToOutput: (s: string) => void };
    rl.question(prompt, (answer) => {
      rl.close();
      process.stdout.write("\n");
      resolve(answer);
    });
    // Swallow the echo of typed characters; the prompt itself was already written.
    rlw._writeToOutput = () => {};
  });
}
