/**
 * Deploys the reward token + TrainingRun: `npm run deploy -- --rpc URL --key FILE [--config params.json]
 * [--password-file F] [--out deployment.json]`. The same code as `cotrain deploy`.
 */
import "../node/polyfill.ts";
import { CliError } from "../node/cli/errors.ts";
import { buildProgram } from "../node/cli/program.ts";

try {
  await buildProgram().parseAsync(["node", "cotrain", "deploy", ...process.argv.slice(2)]);
} catch (err) {
  if ((err as { code?: string }).code?.startsWith("commander.")) {
    process.exitCode = (err as { exitCode?: number }).exitCode ?? 1;
  } else {
    process.stderr.write(`deploy: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = err instanceof CliError ? err.exitCode : 1;
  }
}
