import { type Hash32, hash32Bytes } from "../hash/index.ts";
import type { P2PNode } from "../p2p/index.ts";
import type { Role } from "./context.ts";

const VERSION = "0.1.0";

/** What a heartbeat reports, read fresh at every beat. */
export interface StatusReading {
  round: number;
  hash: Hash32;
  tokensPerS: number;
  loss?: number;
}

/** Periodic status heartbeat on the run's status topic (explorer, `cotrain doctor`). */
export class Heartbeat {
  constructor(
    private readonly opts: { role: Role; backend: string; everyMs: number },
    private readonly deps: { p2p: Pick<P2PNode, "publishStatus"> },
  ) {}

  start(read: () => StatusReading): { stop(): void } {
    const beat = () => {
      const s = read();
      this.deps.p2p
        .publishStatus({
          role: this.opts.role,
          round: s.round,
          modelHash: hash32Bytes(s.hash),
          backend: this.opts.backend,
          tokensPerS: s.tokensPerS,
          loss: s.loss,
          timestamp: Date.now(),
          version: VERSION,
        })
        .catch(() => {}); // no subscribers yet is not an error worth logging
    };
    const timer = setInterval(beat, this.opts.everyMs);
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }
}
