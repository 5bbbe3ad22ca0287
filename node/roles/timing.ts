import { RoleError } from "./errors.ts";
import type { RoundTimes } from "./views.ts";

/** Sleeps until chain time `t` (seconds), re-syncing the clock's offset on the way; throws when stopped. */
export async function sleepUntil(clock: Pick<RoundTimes, "now">, t: number, signal: AbortSignal): Promise<void> {
  for (;;) {
    if (signal.aborted) throw new RoleError("STOPPED", "stopped");
    const left = t - clock.now();
    if (left <= 0) return;
    await sleep(Math.min(left * 1000, 1000), signal);
  }
}

/**
 * The local wall-clock moment (Date.now() ms) of chain time `t` (seconds) on `clock`: fetches and
 * their retries run on local timers, but their deadlines are the round's, which are chain time.
 */
export function wallDeadline(clock: Pick<RoundTimes, "now">, t: number, nowMs: number = Date.now()): number {
  return nowMs + (t - clock.now()) * 1000;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
