import { escapeXml } from '../cells/draw.js';

/** One series of {@link rewardPlotSvg}: rewards in the order children finished. */
export interface RewardSeries {
  label: string;
  rewards: number[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/**
 * An SVG plot of each child's reward (dots) and its running best (line) against child index, one
 * color per series (e.g. per strategy).
 *
 * @param series - one or more reward sequences
 * @param title - plot title
 */
export function rewardPlotSvg(series: RewardSeries[], title = 'reward by child'): string {
  const W = 760;
  const H = 420;
  const m = { l: 60, r: 200, t: 40, b: 50 };
  const n = Math.max(1, ...series.map((s) => s.rewards.length));
  const all = series.flatMap((s) => s.rewards).filter(Number.isFinite);
  let lo = all.length ? Math.min(...all) : 0;
  let hi = all.length ? Math.max(...all) : 1;
  if (hi - lo < 1e-9) {
    lo -= 0.05;
    hi += 0.05;
  }
  const x = (i: number) => m.l + ((W - m.l - m.r) * i) / Math.max(1, n - 1);
  const y = (v: number) => H - m.b - ((H - m.t - m.b) * (v - lo)) / (hi - lo);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - m.r / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>`,
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">child</text>`,
    `<text x="16" y="${(m.t + H - m.b) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(m.t + H - m.b) / 2})">reward</text>`,
  ];
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    parts.push(`<line x1="${m.l - 4}" y1="${y(v)}" x2="${W - m.r}" y2="${y(v)}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.l - 8}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(3)}</text>`);
  }
  for (const i of new Set([0, 1, 2, 3, 4].map((k) => Math.round(((n - 1) * k) / 4)))) {
    parts.push(`<text x="${x(i)}" y="${H - m.b + 16}" text-anchor="middle">${i}</text>`);
  }
  series.forEach((s, si) => {
    const color = COLORS[si % COLORS.length];
    let best = -Infinity;
    const line: string[] = [];
    s.rewards.forEach((r, i) => {
      if (Number.isFinite(r)) {
        parts.push(`<circle cx="${x(i).toFixed(1)}" cy="${y(r).toFixed(1)}" r="2.5" fill="${color}" fill-opacity="0.45"/>`);
        best = Math.max(best, r);
      }
      if (Number.isFinite(best)) line.push(`${x(i).toFixed(1)},${y(best).toFixed(1)}`);
    });
    if (line.length) parts.push(`<polyline points="${line.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
    const ly = m.t + 10 + si * 20;
    parts.push(`<rect x="${W - m.r + 15}" y="${ly - 9}" width="12" height="12" fill="${color}"/>`);
    parts.push(`<text x="${W - m.r + 32}" y="${ly + 1}">${escapeXml(s.label)} (best ${Number.isFinite(best) ? best.toFixed(3) : '-'})</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
