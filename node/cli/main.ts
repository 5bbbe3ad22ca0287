import "../polyfill.ts";
import { runCli } from "./run.ts";

/** Entry point of `cotrain` (bin/cotrain.js, npm run cotrain). */
await runCli(process.argv);
