import { CommanderError } from "commander";
import type { RoleHooks } from "../roles/index.ts";
import { CliError } from "./errors.ts";
import { buildProgram } from "./program.ts";

/** Runs the CLI on `argv`: errors print one line and set a non-zero exit code; a stack only under --debug. */
export async function runCli(argv: string[], opts: { hooks?: RoleHooks } = {}): Promise<void> {
  const program = buildProgram(opts);
  const debug = argv.includes("--debug");
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help / --version exit 0; usage errors were already printed by commander.
      process.exitCode = err.exitCode;
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`cotrain: ${message.split("\n")[0]}\n`);
    if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exitCode = err instanceof CliError ? err.exitCode : 1;
  }
}
