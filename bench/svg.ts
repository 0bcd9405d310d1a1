/** Small SVG plots for the benchmark reports: lines over x, and dots per category with their mean. */
import { escapeXml } from '../lib/cells/draw.js';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf', '#7f7f7f', '#bcbd22'];

interface Frame {
  W: number;
  H: number;
  m: { l: number; r: number; t: number; b: number };
  lo: number;
  hi: number;
  parts: string[];
  y: (v: number) => number;
}

function frame(title: string, xLabel: string, yLabel: string, values: number[], W = 800, H = 440, right = 230): Frame {
  const m = { l: 64, r: right, t: 40, b: 56 };
  const finite = values.filter(Number.isFinite);
  let lo = finite.length ? Math.min(...finite) : 0;
  let hi = finite.length ? Math.max(...finite) : 1;
  const pad = Math.max((hi - lo) * 0.08, 0.005);
  lo -= pad;
  hi += pad;
  const y = (v: number) => H - m.b - ((H - m.t - m.b) * (v - lo)) / (hi - lo);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${(W - m.r + m.l) / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>`,
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 10}" text-anchor="middle">${escapeXml(xLabel)}</text>`,
    `<text x="16" y="${(m.t + H - m.b) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(m.t + H - m.b) / 2})">${escapeXml(yLabel)}</text>`,
  ];
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    parts.push(`<line x1="${m.l - 4}" y1="${y(v)}" x2="${W - m.r}" y2="${y(v)}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.l - 8}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(3)}</text>`);
  }
  return { W, H, m, lo, hi, parts, y };
}

/** Lines (with points) of y against x, one per series. */
export function linesSvg(series: { label: string; x: number[]; y: number[] }[], title: string, xLabel: string, yLabel: string): string {
  const f = frame(title, xLabel, yLabel, series.flatMap((s) => s.y));
  const xs = series.flatMap((s) => s.x);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs, x0 + 1);
  const x = (v: number) => f.m.l + ((f.W - f.m.l - f.m.r) * (v - x0)) / (x1 - x0);
  for (let k = 0; k <= 4; k++) {
    const v = x0 + ((x1 - x0) * k) / 4;
    f.parts.push(`<text x="${x(v)}" y="${f.H - f.m.b + 16}" text-anchor="middle">${Number.isInteger(v) ? v : v.toFixed(1)}</text>`);
  }
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.x.map((v, k) => `${x(v).toFixed(1)},${f.y(s.y[k]!).toFixed(1)}`);
    f.parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const p of pts) f.parts.push(`<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="2.5" fill="${color}"/>`);
    const ly = f.m.t + 10 + i * 20;
    f.parts.push(`<rect x="${f.W - f.m.r + 15}" y="${ly - 9}" width="12" height="12" fill="${color}"/>`);
    f.parts.push(`<text x="${f.W - f.m.r + 32}" y="${ly + 1}">${escapeXml(s.label)}</text>`);
  });
  f.parts.push('</svg>');
  return f.parts.join('\n');
}

/** One column per category: a dot per value (e.g. per seed) and a bar at their mean. */
export function dotsSvg(categories: { label: string; values: number[] }[], title: string, yLabel: string): string {
  const W = Math.max(640, 90 + 70 * categories.length);
  const f = frame(title, '', yLabel, categories.flatMap((c) => c.values), W, 480, 20);
  const step = (f.W - f.m.l - f.m.r) / Math.max(categories.length, 1);
  categories.forEach((c, i) => {
    const cx = f.m.l + step * (i + 0.5);
    const color = COLORS[i % COLORS.length];
    for (const [k, v] of c.values.entries()) f.parts.push(`<circle cx="${(cx - 8 + (16 * k) / Math.max(c.values.length - 1, 1)).toFixed(1)}" cy="${f.y(v).toFixed(1)}" r="4" fill="${color}" fill-opacity="0.7"/>`);
    if (c.values.length) {
      const mean = c.values.reduce((a, b) => a + b, 0) / c.values.length;
      f.parts.push(`<line x1="${cx - 18}" y1="${f.y(mean)}" x2="${cx + 18}" y2="${f.y(mean)}" stroke="black" stroke-width="2"/>`);
    }
    f.parts.push(`<text x="${cx}" y="${f.H - f.m.b + 14}" text-anchor="end" transform="rotate(-35 ${cx} ${f.H - f.m.b + 14})">${escapeXml(c.label)}</text>`);
  });
  f.parts.push('</svg>');
  return f.parts.join('\n');
}
