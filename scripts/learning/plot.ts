/**
 * A small dependency-free SVG line chart: held-out loss against tokens, one line per method. (chart.js
 * needs a canvas, which Node lacks; an SVG is a few lines of text and renders in any browser or on GitHub.)
 */
export interface Series {
  readonly label: string;
  readonly points: ReadonlyArray<{ readonly x: number; readonly y: number }>;
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];
const W = 720;
const H = 420;
const PAD = { left: 64, right: 180, top: 36, bottom: 52 };

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** "Nice" tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten. */
function ticks(lo: number, hi: number, target = 6): number[] {
  const span = hi - lo || 1;
  const raw = span / target;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => span / s <= target) ?? 10 * pow;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

/**
 * Renders the series; the y range is clipped to [min, yMax] (the first evaluation of an untrained model
 * sits near ln 256 = 5.5 and would flatten the part of the curves worth reading).
 */
export function lineChartSvg(
  series: readonly Series[],
  opts: {
    title: string;
    xLabel: string;
    yLabel: string;
    yMax?: number;
    /** Dashed vertical lines at these x values, labelled (e.g. where a data stage starts). */
    marks?: ReadonlyArray<{ readonly x: number; readonly label: string }>;
  },
): string {
  const all = series.flatMap((s) => s.points);
  const xMax = Math.max(...all.map((p) => p.x)) || 1;
  const yMin = Math.min(...all.map((p) => p.y));
  const yMax = Math.min(Math.max(...all.map((p) => p.y)), opts.yMax ?? Number.POSITIVE_INFINITY);
  const lo = yMin - 0.05 * (yMax - yMin || 1);
  const hi = yMax + 0.02 * (yMax - yMin || 1);
  const pw = W - PAD.left - PAD.right;
  const ph = H - PAD.top - PAD.bottom;
  const sx = (x: number) => PAD.left + (x / xMax) * pw;
  const sy = (y: number) => PAD.top + (1 - (Math.min(y, hi) - lo) / (hi - lo)) * ph;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${PAD.left}" y="20" font-size="14" font-weight="bold">${esc(opts.title)}</text>`,
  ];
  for (const t of ticks(lo, hi)) {
    const y = sy(t).toFixed(1);
    parts.push(`<line x1="${PAD.left}" x2="${PAD.left + pw}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${PAD.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${t}</text>`);
  }
  for (const t of ticks(0, xMax)) {
    const x = sx(t).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${PAD.top}" y2="${PAD.top + ph}" stroke="#f0f0f0"/>`);
    parts.push(`<text x="${x}" y="${PAD.top + ph + 16}" text-anchor="middle">${t}</text>`);
  }
  parts.push(`<rect x="${PAD.left}" y="${PAD.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  for (const m of opts.marks ?? []) {
    const x = sx(m.x).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${PAD.top}" y2="${PAD.top + ph}" stroke="#555" stroke-dasharray="4 4"/>`);
    parts.push(`<text x="${+x + 4}" y="${PAD.top + 12}" fill="#555">${esc(m.label)}</text>`);
  }
  parts.push(`<text x="${PAD.left + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(opts.xLabel)}</text>`);
  parts.push(
    `<text transform="translate(16 ${PAD.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const pts = s.points.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ");
    parts.push(`<polyline points="${pts}" fill="none" stroke="${c}" stroke-width="2"/>`);
    const ly = PAD.top + 14 + i * 20;
    parts.push(
      `<line x1="${W - PAD.right + 14}" x2="${W - PAD.right + 38}" y1="${ly}" y2="${ly}" stroke="${c}" stroke-width="3"/>`,
    );
    parts.push(`<text x="${W - PAD.right + 44}" y="${ly}" dominant-baseline="middle">${esc(s.label)}</text>`);
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

/** Charts from lineChartSvg stacked top to bottom in one SVG (e.g. one per held-out set). */
export function stackCharts(charts: readonly string[]): string {
  const inner = charts.map((c, i) => c.trimEnd().replace("<svg ", `<svg y="${i * H}" `));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H * charts.length}" viewBox="0 0 ${W} ${H * charts.length}">`,
    ...inner,
    "</svg>",
    "",
  ].join("\n");
}
