import type { RunContext } from "./context.ts";

const VERSION = "0.1.0";

/** Periodic status heartbeat on the run's status topic (explorer, `cotrain doctor`). */
export function startHeartbeat(
  ctx: RunContext,
  read: () => { round: number; hash: string; tokensPerS: number; loss?: number },
): { stop(): void } {
  const beat = () => {
    const s = read();
    ctx.p2p
      .publishStatus({
        role: ctx.role,
        round: s.round,
        modelHash: Buffer.from(s.hash, "hex"),
        backend: ctx.backend.backend,
        tokensPerS: s.tokensPerS,
        loss: s.loss,
        timestamp: Date.now(),
        version: VERSION,
      })
      .catch(() => {}); // no subscribers yet is not an error worth logging
  };
  const timer = setInterval(beat, ctx.options.statusEveryMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
