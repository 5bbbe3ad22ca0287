import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { lineChartSvg } from "./plot.ts";
import type { MethodResult } from "./simulate.ts";

/**
 * The learning benchmark's report: one JSON line per method, the table (stderr and <name>.md), the JSON
 * of everything and the plot of held-out loss against tokens (<name>.svg). Also for `--combine`, which
 * puts runs made one method or flag set at a time into one table and one plot.
 */

/** What the header and the comparison need to know of the run. */
export interface ReportConfig {
  readonly preset: string;
  readonly K: number;
  readonly batch: number;
  readonly seqLen: number;
  readonly H: number;
  readonly rounds: number;
  readonly tokens: number;
  readonly heldout: number;
  readonly seed?: string;
}

export interface ReportRow {
  method: string;
  H: number;
  rounds: number;
  heldout: number;
  vs_ddp_pct: number | null;
  vs_diloco_pct: number | null;
  tokens: number;
  bytes_per_peer_per_round: number;
  wall_s: number;
  outer_s: number;
}

const pct = (x: number, base: number | undefined) =>
  base === undefined ? null : +((100 * (x - base)) / base).toFixed(2);
const signed = (p: number | null) => (p === null ? "" : `${p > 0 ? "+" : ""}${p.toFixed(1)} %`);
const fmtBytes = (b: number) => (b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : `${(b / 1e3).toFixed(1)} kB`);

/** Final numbers per method, relative to the (first) AdamW-DDP and DiLoCo among them. */
export function reportRows(config: ReportConfig, results: readonly MethodResult[]): ReportRow[] {
  const ref = (label: string) => results.find((r) => r.label === label)?.points.at(-1)?.heldout;
  const ddp = ref("AdamW-DDP");
  const diloco = ref("DiLoCo");
  return results.map((r) => {
    const last = r.points.at(-1)!;
    return {
      method: r.label,
      H: r.spec.outer === "ddp" ? 1 : config.H,
      rounds: config.rounds,
      heldout: +last.heldout.toFixed(4),
      vs_ddp_pct: pct(last.heldout, ddp),
      vs_diloco_pct: pct(last.heldout, diloco),
      tokens: last.tokens,
      bytes_per_peer_per_round: r.bytesPerPeerPerRound,
      wall_s: +r.wallSeconds.toFixed(1),
      outer_s: +r.outerSeconds.toFixed(2),
    };
  });
}

export function reportTable(config: ReportConfig, rows: readonly ReportRow[]): string {
  return [
    `${config.preset}, ${config.K} peers x batch ${config.batch}, T ${config.seqLen}, H ${config.H}, ${config.rounds} rounds, ${(config.tokens / 1e6).toFixed(3)}M tokens, held-out: ${config.heldout} windows`,
    "",
    "| method | held-out loss | vs AdamW-DDP | vs DiLoCo | tokens | bytes / peer / round | wall s |",
    "|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.method} | ${r.heldout.toFixed(3)} | ${signed(r.vs_ddp_pct)} | ${signed(r.vs_diloco_pct)} | ${r.tokens.toLocaleString("en-US")} | ${fmtBytes(r.bytes_per_peer_per_round)} | ${r.wall_s.toFixed(0)} |`,
    ),
  ].join("\n");
}

/** Prints the result lines and the table, writes <out>/<name>.{json,md,svg}. */
export function writeReport(
  config: ReportConfig & Record<string, unknown>,
  results: readonly MethodResult[],
  out: string,
  name: string,
): void {
  const rows = reportRows(config, results);
  for (const row of rows) console.log(JSON.stringify({ bench: "learning.result", ...row }));
  const table = reportTable(config, rows);
  console.error(`\n${table}\n`);
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, `${name}.json`), `${JSON.stringify({ config, rows, results }, null, 1)}\n`);
  writeFileSync(path.join(out, `${name}.md`), `${table}\n`);
  writeFileSync(
    path.join(out, `${name}.svg`),
    lineChartSvg(
      results.map((r) => ({ label: r.label, points: r.points.map((p) => ({ x: p.tokens / 1e6, y: p.heldout })) })),
      {
        title: `${config.preset}: held-out loss at equal tokens (H=${config.H}, ${config.K} peers)`,
        xLabel: "tokens (millions)",
        yLabel: "held-out loss (nats/token)",
        yMax: 3.5,
      },
    ),
  );
  console.error(`wrote ${path.join(out, name)}.{json,md,svg}`);
}

/** The fields two runs must share to be compared at equal tokens on the same held-out windows. */
const SAME = ["preset", "K", "batch", "seqLen", "H", "rounds", "tokens", "heldout", "seed"] as const;

/**
 * `--combine a.json[=label],b.json[=label],…`: the methods of earlier runs in one report. A label
 * replaces the method names of that file's results ("SparseLoCo k256 dense2"); every file must share the
 * first one's budget and held-out windows, else the comparison is not at equal tokens.
 */
export function combineRuns(spec: string): { config: ReportConfig & Record<string, unknown>; results: MethodResult[] } {
  let config: (ReportConfig & Record<string, unknown>) | undefined;
  const results: MethodResult[] = [];
  for (const item of spec.split(",")) {
    const [file, label] = item.split("=");
    const run = JSON.parse(readFileSync(file, "utf8")) as {
      config: ReportConfig & Record<string, unknown>;
      results: MethodResult[];
    };
    // runs made before the seed was recorded used the default one
    run.config = { ...run.config, seed: run.config.seed ?? "bench-learning" };
    config ??= run.config;
    for (const key of SAME)
      if (run.config[key] !== config[key])
        throw new Error(`--combine: ${file} has ${key} ${run.config[key]}, the first run ${config[key]}`);
    for (const r of run.results)
      results.push(label ? { ...r, label: run.results.length > 1 ? `${label} ${r.label}` : label } : r);
  }
  if (!config) throw new Error("--combine: no files");
  return { config, results };
}
