/**
 * The children table's filter: space-separated terms, all of which must hold.
 * - `reward>0.7`, `params<=50k`, `seconds<30`, `mult-adds<2M`, `id=12`: compare a numeric field
 *   (`k`, `M`, `B` suffixes; any numeric field of the records, also new ones);
 * - `status:error` (or `ok`, `diverged`, `rejected`, `duplicate`), `run:ppo`, `worker:gpu1`: the field
 *   contains the text;
 * - anything else: the text appears in the run, status, worker, hash, id or error message.
 * Pure (no DOM), so the tests run it in Node.
 */
import type { ChildRow } from '../protocol.js';
import { childStatus } from './format.js';

/** A compiled filter, or the reason the text is not one. */
export interface RowFilter {
  test(row: ChildRow): boolean;
  /** Set when a term could not be read; the filter then ignores that term. */
  error?: string;
}

const ALIASES: Record<string, string> = { 'mult-adds': 'multAdds', multadds: 'multAdds', madds: 'multAdds', child: 'id', acc: 'accuracy', time: 'seconds' };
const SUFFIX: Record<string, number> = { k: 1e3, m: 1e6, b: 1e9 };

/** Reads `50k`, `1.2M`, `3e4`, `0.7`; undefined when it is not a number. */
export function parseQuantity(text: string): number | undefined {
  const m = /^(-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)([kmb])?$/i.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * (m[2] ? SUFFIX[m[2].toLowerCase()] : 1);
}

function fieldText(row: ChildRow, field: string): string {
  if (field === 'status') return childStatus(row);
  const v = row[field];
  return v === undefined || v === null ? '' : String(v);
}

type Test = (row: ChildRow) => boolean;

function compileTerm(term: string): Test | string {
  const cmp = /^([A-Za-z][\w-]*)(>=|<=|!=|=|>|<)(.+)$/.exec(term);
  if (cmp) {
    const field = ALIASES[cmp[1].toLowerCase()] ?? cmp[1];
    const op = cmp[2];
    const want = parseQuantity(cmp[3]);
    if (want === undefined) {
      if (op === '=' || op === '!=') {
        const text = cmp[3].toLowerCase();
        return (row) => (fieldText(row, field).toLowerCase() === text) === (op === '=');
      }
      return `${term}: '${cmp[3]}' is not a number`;
    }
    return (row) => {
      const v = row[field];
      if (typeof v !== 'number' || !Number.isFinite(v)) return op === '!=';
      switch (op) {
        case '>':
          return v > want;
        case '<':
          return v < want;
        case '>=':
          return v >= want;
        case '<=':
          return v <= want;
        case '=':
          return v === want;
        default:
          return v !== want;
      }
    };
  }
  const has = /^([A-Za-z][\w-]*):(.*)$/.exec(term);
  if (has) {
    const field = ALIASES[has[1].toLowerCase()] ?? has[1];
    const text = has[2].toLowerCase();
    return (row) => fieldText(row, field).toLowerCase().includes(text);
  }
  const text = term.toLowerCase();
  return (row) => ['run', 'status', 'worker', 'hash', 'id', 'error'].some((f) => fieldText(row, f).toLowerCase().includes(text));
}

/**
 * Compiles the filter text.
 *
 * @param text - as typed, e.g. `reward>0.7 status:ok`
 * @example
 * parseFilter('reward>0.7 params<50k').test(row);
 */
export function parseFilter(text: string): RowFilter {
  const tests: Test[] = [];
  const errors: string[] = [];
  for (const term of text.split(/[\s,]+/).filter(Boolean)) {
    const t = compileTerm(term);
    if (typeof t === 'string') errors.push(t);
    else tests.push(t);
  }
  return { test: (row) => tests.every((t) => t(row)), error: errors.length > 0 ? errors.join('; ') : undefined };
}
