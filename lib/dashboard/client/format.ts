/**
 * Number, duration and status formatting for the page, and the fields of a child row the page
 * knows. Pure functions (no DOM), so the tests run them in Node.
 */
import type { ChildRow } from '../protocol.js';

/** Fields every view knows; other numeric fields of a record become extra table columns. */
export const KNOWN_FIELDS = new Set([
  'run',
  'line',
  'id',
  'index',
  'reward',
  'accuracy',
  'curve',
  'params',
  'multAdds',
  'seconds',
  'worker',
  'error',
  'diverged',
  'duplicateOf',
  'rejected',
  'strategy',
  'finishedAt',
  'hash',
]);

/** A number read from a row field, or undefined when it is missing or not a finite number. */
export function num(row: ChildRow, field: string): number | undefined {
  const v = row[field];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** `0.7312`, or `–` for missing. */
export function fmtReward(v: number | undefined): string {
  return v === undefined ? '–' : v.toFixed(4);
}

/** `12,345`, or `–`. */
export function fmtInt(v: number | undefined): string {
  return v === undefined ? '–' : Math.round(v).toLocaleString('en-US');
}

/** `12.3k`, `4.56M`, `1.20B`: for axes and summaries. */
export function fmtShort(v: number | undefined): string {
  if (v === undefined) return '–';
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(2)}B`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return String(Math.round(v * 1000) / 1000);
}

/** `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`. */
export function fmtDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h${m % 60 ? ` ${m % 60} min` : ''}`;
  return `${Math.floor(h / 24)} d${h % 24 ? ` ${h % 24} h` : ''}`;
}

/** The status word of a child: `error`, `diverged`, `rejected`, `duplicate` or `ok`. */
export function childStatus(row: ChildRow): 'error' | 'diverged' | 'rejected' | 'duplicate' | 'ok' {
  if (typeof row.error === 'string' && row.error !== '') return 'error';
  if (row.diverged === true) return 'diverged';
  if (typeof row.rejected === 'string' && row.rejected !== '') return 'rejected';
  if (row.duplicateOf !== undefined && row.duplicateOf !== null) return 'duplicate';
  return 'ok';
}

/** The sentence behind a status (the error message, the rejection reason, the original child). */
export function statusDetail(row: ChildRow): string {
  switch (childStatus(row)) {
    case 'error':
      return String(row.error);
    case 'diverged':
      return 'the loss became NaN: reward 0';
    case 'rejected':
      return `rejected before training: ${String(row.rejected)}`;
    case 'duplicate':
      return `same cells as child ${String(row.duplicateOf)}: its result was reused`;
    default:
      return '';
  }
}

/** The accuracy curve of a row (validation accuracy per epoch); null entries (NaN) become NaN. */
export function curveOf(row: ChildRow): number[] {
  const c = row.curve;
  if (!Array.isArray(c)) return [];
  return c.map((v) => (typeof v === 'number' ? v : Number.NaN));
}

/** The numeric fields of `rows` that {@link KNOWN_FIELDS} does not name, in first-seen order. */
export function extraNumericFields(rows: readonly ChildRow[]): string[] {
  const out = new Set<string>();
  for (const r of rows) {
    for (const [k, v] of Object.entries(r)) if (!KNOWN_FIELDS.has(k) && typeof v === 'number') out.add(k);
  }
  return [...out];
}

/**
 * The latest row of each child (a child may have several lines, e.g. one per rung of successive
 * halving), in history order of those latest lines.
 */
export function latestPerChild(rows: readonly ChildRow[]): ChildRow[] {
  const last = new Map<string, ChildRow>();
  const runOrder = new Map<string, number>();
  for (const r of rows) {
    last.set(`${r.run}\u0000${String(r.id)}`, r);
    if (!runOrder.has(r.run)) runOrder.set(r.run, runOrder.size);
  }
  return [...last.values()].sort((a, b) => runOrder.get(a.run)! - runOrder.get(b.run)! || a.line - b.line);
}
