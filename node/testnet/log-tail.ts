import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";

export type LogLine = Record<string, unknown> & { msg?: string };

/**
 * Reads a node's pino log (one JSON object per line) incrementally: each poll returns only the lines
 * appended since the last one, so watching a long-running testnet stays O(new bytes).
 */
export class LogTail {
  private offset = 0;
  private partial = "";

  constructor(readonly file: string) {}

  /** Skips what is already in the file (lines of an earlier start of the same data dir). */
  skipExisting(): void {
    this.offset = existsSync(this.file) ? statSync(this.file).size : 0;
  }

  poll(): LogLine[] {
    if (!existsSync(this.file)) return [];
    const size = statSync(this.file).size;
    if (size < this.offset) this.offset = 0; // truncated: start over
    if (size === this.offset) return [];
    const buf = Buffer.alloc(size - this.offset);
    const fd = openSync(this.file, "r");
    try {
      readSync(fd, buf, 0, buf.length, this.offset);
    } finally {
      closeSync(fd);
    }
    this.offset = size;
    const text = this.partial + buf.toString("utf8");
    const lines = text.split("\n");
    this.partial = lines.pop() ?? "";
    const out: LogLine[] = [];
    for (const l of lines) {
      if (!l.startsWith("{")) continue;
      try {
        out.push(JSON.parse(l) as LogLine);
      } catch {
        // a non-JSON line (a crash trace): the node's exit is reported elsewhere
      }
    }
    return out;
  }
}
