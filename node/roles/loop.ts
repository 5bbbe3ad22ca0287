import type { Logger } from "pino";
import { isHarmlessRace } from "../chain/index.ts";
import { FATAL_ROLE_ERRORS, RoleError } from "./errors.ts";
import { sleep } from "./timing.ts";

/**
 * Runs one round after another until `signal` aborts. An error inside a round (RPC down, a reverted or
 * unconfirmed transaction, a failed fetch) is logged and the round re-entered after `retryDelayMs`:
 * stored state only changes through atomic commits, so the next pass resumes from a consistent point
 * and a fault never ends the process. Stopping (RoleError STOPPED) ends the loop quietly; an error no
 * retry can fix (FATAL_ROLE_ERRORS: a config or dataset this node lacks) ends it by throwing.
 */
export async function runRounds(
  deps: { logger: Logger; retryDelayMs: number },
  signal: AbortSignal,
  round: () => Promise<void>,
): Promise<void> {
  while (!signal.aborted) {
    try {
      await round();
    } catch (err) {
      if (err instanceof RoleError && err.code === "STOPPED") return;
      if (err instanceof RoleError && FATAL_ROLE_ERRORS.has(err.code)) throw err;
      // Another node did it first (finalized the round, recorded a newer checkpoint): not a failure.
      if (isHarmlessRace(err)) deps.logger.info({ err: (err as Error).message }, "lost a harmless race; retrying");
      else deps.logger.error({ err: (err as Error).message ?? String(err) }, "round failed; retrying");
      await sleep(deps.retryDelayMs, signal);
    }
  }
}
