import cliProgress from "cli-progress";
import { type NetworkSnapshot, type NodeView, utilizationOf } from "./observer.ts";

const fmt = (v: number | undefined, digits = 3): string => (v === undefined ? "-" : v.toFixed(digits));
const short = (a: string): string => `${a.slice(0, 6)}…${a.slice(-4)}`;

function nodeLine(n: NodeView): Record<string, string> {
  if (n.role === "validator") {
    return {
      name: n.name,
      addr: short(n.address),
      detail: n.exited !== null ? `EXITED (${n.exited})` : "scores every update, finalizes rounds",
    };
  }
  const loss = n.trainLoss === undefined ? "-" : `${fmt(n.trainLoss)} (r${n.trainRound})`;
  const score = n.score === undefined ? "-" : `${fmt(n.score)} (r${n.scoreRound})`;
  const tps = n.tokensPerS === undefined ? "-" : String(Math.round(n.tokensPerS));
  const exited = n.exited !== null ? `  EXITED (${n.exited})` : "";
  return {
    name: n.name,
    addr: short(n.address),
    detail: `loss ${loss}  tok/s ${tps}  util ${fmt(utilizationOf(n), 2)}  score ${score}  rewards ${fmt(n.pending, 2)} pending / ${fmt(n.claimed, 2)} claimed${exited}`,
  };
}

function header(s: NetworkSnapshot): Record<string, string> {
  const rounds = [...s.heldOut.keys()].sort((a, b) => a - b);
  const first = rounds.length ? s.heldOut.get(rounds[0]) : undefined;
  const last = rounds.length ? s.heldOut.get(rounds[rounds.length - 1]) : undefined;
  return {
    round: String(s.currentRound),
    finalized: s.lastFinalized === null ? "none yet" : `${s.lastFinalized} (+${s.finalizedSinceStart} this start)`,
    heldout: rounds.length ? `${fmt(first)} → ${fmt(last)} (r${rounds[rounds.length - 1]})` : "-",
  };
}

/** What `cotrain testnet` shows while it runs. */
export interface StatusDisplay {
  update(s: NetworkSnapshot, finalized: number[]): void;
  stop(): void;
}

/**
 * A live table on a terminal, redrawn in place by cli-progress (one bar for the round's progress, one
 * text line per node); the library handles cursor movement and leaves the last frame on screen.
 */
export function createTtyDisplay(stream: NodeJS.WriteStream = process.stdout): StatusDisplay {
  const multi = new cliProgress.MultiBar(
    {
      stream,
      clearOnComplete: false,
      hideCursor: true,
      autopadding: true,
      forceRedraw: true,
      fps: 5,
      format: "{name} {addr}  {detail}",
    },
    cliProgress.Presets.shades_classic,
  );
  let head: cliProgress.SingleBar | undefined;
  const rows = new Map<string, cliProgress.SingleBar>();
  return {
    update(s) {
      if (!head) {
        head = multi.create(s.roundSeconds, 0, header(s), {
          format: "round {round} [{bar}] {value}/{total}s | finalized {finalized} | held-out loss {heldout}",
        });
      }
      head.setTotal(s.roundSeconds);
      head.update(Math.floor(s.roundElapsed), header(s));
      for (const n of s.nodes) {
        const row = rows.get(n.name) ?? multi.create(1, 0, nodeLine(n));
        rows.set(n.name, row);
        row.update(0, nodeLine(n));
      }
    },
    stop() {
      multi.stop();
    },
  };
}

/** Pipes and CI logs: one line per finalized round. */
export function createLineDisplay(
  write: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): StatusDisplay {
  return {
    update(s, finalized) {
      for (const r of finalized) {
        const peers = s.nodes
          .filter((n) => n.role === "peer")
          .map(
            (n) =>
              `${n.name} loss ${fmt(n.trainLoss)} util ${fmt(utilizationOf(n), 2)} score ${n.scoreRound === r ? fmt(n.score) : "-"} pending ${fmt(n.pending, 2)}`,
          )
          .join("; ");
        write(`round ${r} finalized | held-out loss ${fmt(s.heldOut.get(r))} | ${peers}`);
      }
    },
    stop() {},
  };
}
