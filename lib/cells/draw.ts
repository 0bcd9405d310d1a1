/**
 * Cell drawings as self-contained SVG, in the style of the paper's figures: the two cell inputs at
 * the bottom, one box per op, a circle per block combine, and the output concat at the top.
 *
 * Layout by layers: inputs are row 0; a block's two op boxes sit one row above the higher of the
 * states they read, its combine one row above them; the output concat is the top row. Within a row,
 * items keep block order. No external dependencies; every label is XML-escaped.
 */

import { type CellKind, resolveConcat, validateGenotype } from './genotype.js';
import type { Genotype } from './genotype-types.js';
import { OPS } from './ops.js';

/**
 * Escapes text for XML content and attribute values.
 * @param s any text
 * @example escapeXml('a<b') // 'a&lt;b'
 */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

interface Item {
  key: string;
  label: string;
  row: number;
  shape: 'input' | 'op' | 'combine' | 'output';
  fill: string;
  x: number;
  y: number;
}

const COL_W = 130;
const ROW_H = 70;
const BOX_W = 110;
const BOX_H = 28;
const MARGIN = 40;
const DUMMY_W = 36;
/** Most bend points of a drawing (see {@link layout}). */
const MAX_DUMMIES = 20_000;

function fillFor(op: string): string {
  if (op.startsWith('sep')) return '#f6e3a1';
  if (op.includes('pool')) return '#b8d4f0';
  if (op === 'identity') return '#ffffff';
  return '#f4c7a1';
}

interface Slot {
  key: string;
  row: number;
  width: number;
  x: number;
  preds: Slot[];
  succs: Slot[];
}

interface Chain {
  from: string;
  to: string;
  /** Bend points (one per row an edge crosses), bottom to top. */
  via: [number, number][];
}

/**
 * Layered layout: long edges get a narrow dummy slot in every row they cross, so they run between
 * boxes; rows are ordered by the barycenter of their neighbours below, then above (which keeps a block's
 * two op boxes under its combine); the inputs stay put.
 * Sets `x`, `y` of every item.
 */
function layout(items: Item[], edges: [string, string][], top: number) {
  const slots = new Map<string, Slot>();
  const add = (key: string, row: number, width: number): Slot => {
    const s: Slot = { key, row, width, x: 0, preds: [], succs: [] };
    slots.set(key, s);
    return s;
  };
  for (const it of items) add(it.key, it.row, COL_W);
  // Dummy slots grow with the square of the blocks (a cell input read by every block of a long
  // chain): past MAX_DUMMIES, long edges are drawn straight instead, so any cell draws in bounded time.
  const span = edges.reduce((n, [from, to]) => n + Math.max(0, slots.get(to)!.row - slots.get(from)!.row - 1), 0);
  const bends = span <= MAX_DUMMIES;
  const paths = edges.map(([from, to], e) => {
    const path = [slots.get(from)!];
    if (bends) for (let r = path[0]!.row + 1; r < slots.get(to)!.row; r++) path.push(add(`dummy${e}_${r}`, r, DUMMY_W));
    path.push(slots.get(to)!);
    for (let i = 1; i < path.length; i++) {
      path[i]!.preds.push(path[i - 1]!);
      path[i - 1]!.succs.push(path[i]!);
    }
    return { from, to, path };
  });
  const rows: Slot[][] = Array.from({ length: top + 1 }, () => []);
  for (const s of slots.values()) rows[s.row]!.push(s);
  const widest = rows.reduce((m, r) => Math.max(m, r.reduce((w, s) => w + s.width, 0)), 0);
  let width = Math.max(widest, 2 * COL_W) + 2 * MARGIN;
  const height = (top + 1) * ROW_H + 2 * MARGIN;
  const place = (row: Slot[]): void => {
    let x = (width - row.reduce((w, s) => w + s.width, 0)) / 2;
    for (const s of row) {
      s.x = x + s.width / 2;
      x += s.width;
    }
  };
  const order = (row: Slot[], by: (s: Slot) => Slot[]): void => {
    const bary = new Map(row.map((s) => [s, by(s).length ? by(s).reduce((a, n) => a + n.x, 0) / by(s).length : s.x]));
    row.sort((a, b) => bary.get(a)! - bary.get(b)!);
    // Each slot as close to its barycenter as the slots on its left allow, then the row shifted
    // so that it deviates from the barycenters by zero on average.
    let prev: Slot | null = null;
    for (const s of row) {
      s.x = prev ? Math.max(bary.get(s)!, prev.x + (prev.width + s.width) / 2) : bary.get(s)!;
      prev = s;
    }
    const shift = row.reduce((d, s) => d + bary.get(s)! - s.x, 0) / row.length;
    for (const s of row) s.x += shift;
  };
  rows.forEach(place);
  for (let r = 1; r <= top; r++) order(rows[r]!, (s) => s.preds);
  // Dummies sit between their two ends, so long edges run straight where they can.
  for (let r = top - 1; r >= 1; r--) order(rows[r]!, (s) => (s.key.startsWith('dummy') ? [...s.preds, ...s.succs] : s.succs));
  const all = [...slots.values()];
  const minX = all.reduce((m, s) => Math.min(m, s.x - s.width / 2), Number.POSITIVE_INFINITY);
  const maxX = all.reduce((m, s) => Math.max(m, s.x + s.width / 2), Number.NEGATIVE_INFINITY);
  for (const s of all) s.x += MARGIN - minX;
  width = Math.max(maxX - minX, 2 * COL_W) + 2 * MARGIN;
  const yOf = (row: number): number => height - MARGIN - ROW_H / 2 - row * ROW_H;
  for (const it of items) {
    const s = slots.get(it.key)!;
    it.x = s.x;
    it.y = yOf(s.row);
  }
  const chains: Chain[] = paths.map((p) => ({
    from: p.from,
    to: p.to,
    via: p.path.slice(1, -1).map((s): [number, number] => [s.x, yOf(s.row)]),
  }));
  return { width, height, chains };
}

/**
 * Draws one cell of a genotype as an SVG document.
 * @param genotype the genotype (validated)
 * @param kind 'normal' or 'reduction'
 * @returns SVG text (UTF-8, no external references)
 * @example fs.writeFileSync('normal.svg', drawCell(NASNET_A, 'normal'))
 */
export function drawCell(genotype: Genotype, kind: CellKind): string {
  const cell = validateGenotype(genotype)[kind];
  const items: Item[] = [];
  const edges: [string, string][] = [];
  const stateRow: number[] = [0, 0];
  const stateKey: string[] = ['in0', 'in1'];
  items.push({ key: 'in1', label: 'h_{i-1}', row: 0, shape: 'input', fill: '#dddddd', x: 0, y: 0 });
  items.push({ key: 'in0', label: 'h_i', row: 0, shape: 'input', fill: '#dddddd', x: 0, y: 0 });
  cell.blocks.forEach((b, k) => {
    const opRow = Math.max(stateRow[b.inputs[0]]!, stateRow[b.inputs[1]]!) + 1;
    (['left', 'right'] as const).forEach((side, j) => {
      const key = `b${k}${side}`;
      const op = b.ops[j]!;
      items.push({ key, label: OPS[op].label, row: opRow, shape: 'op', fill: fillFor(op), x: 0, y: 0 });
      edges.push([stateKey[b.inputs[j]!]!, key]);
      edges.push([key, `b${k}`]);
    });
    items.push({ key: `b${k}`, label: b.combine, row: opRow + 1, shape: 'combine', fill: '#b5e3b0', x: 0, y: 0 });
    stateRow.push(opRow + 1);
    stateKey.push(`b${k}`);
  });
  const top = stateRow.reduce((m, r) => Math.max(m, r), 0) + 1;
  items.push({ key: 'out', label: 'concat', row: top, shape: 'output', fill: '#f2b6b6', x: 0, y: 0 });
  for (const s of resolveConcat(cell)) edges.push([stateKey[s]!, 'out']);

  const { width, height, chains } = layout(items, edges, top);
  const byKey = new Map(items.map((it) => [it.key, it]));
  const halfH = (it: Item): number => (it.shape === 'combine' ? 16 : BOX_H / 2);

  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="13">`,
  );
  out.push(`<title>${escapeXml(`${kind} cell`)}</title>`);
  out.push(
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
  );
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${MARGIN / 2}" y="${MARGIN / 2 + 6}" font-weight="bold">${escapeXml(`${kind} cell`)}</text>`);
  for (const chain of chains) {
    const a = byKey.get(chain.from)!;
    const b = byKey.get(chain.to)!;
    const pts = [[a.x, a.y - halfH(a)], ...chain.via, [b.x, b.y + halfH(b)]].map(([x, y]) => `${x},${y}`).join(' ');
    out.push(`<polyline points="${pts}" fill="none" stroke="#555" stroke-width="1.2" marker-end="url(#arrow)"/>`);
  }
  for (const it of items) {
    if (it.shape === 'combine') {
      out.push(`<circle cx="${it.x}" cy="${it.y}" r="16" fill="${it.fill}" stroke="#333"/>`);
      const sym = it.label === 'add' ? '+' : '||';
      out.push(`<text x="${it.x}" y="${it.y + 5}" text-anchor="middle">${escapeXml(sym)}</text>`);
      out.push(`<text x="${it.x + 20}" y="${it.y + 4}" font-size="10" fill="#555">${escapeXml(it.label)}</text>`);
    } else {
      out.push(
        `<rect x="${it.x - BOX_W / 2}" y="${it.y - BOX_H / 2}" width="${BOX_W}" height="${BOX_H}" rx="4" fill="${it.fill}" stroke="#333"/>`,
      );
      out.push(`<text x="${it.x}" y="${it.y + 5}" text-anchor="middle">${escapeXml(it.label)}</text>`);
    }
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
