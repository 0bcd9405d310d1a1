/**
 * The children table: one row per child of the shown runs, sortable by any column (click its
 * header; again to reverse), filtered by the expression in the box above it (see filter.ts).
 */
import type { ComponentChildren } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import type { ChildRow, RunSummary } from '../protocol.js';
import { parseFilter } from './filter.js';
import { childStatus, curveOf, extraNumericFields, fmtInt, fmtReward, fmtShort, num, statusDetail } from './format.js';
import { childHref, runColor, Sparkline } from './plots.js';

/** Rows drawn at most (the rest are counted; a filter narrows them). */
const MAX_SHOWN = 500;

interface Column {
  key: string;
  label: string;
  numeric: boolean;
  /** Value sorted on. */
  value(row: ChildRow): number | string | undefined;
  cell(row: ChildRow, runs: RunSummary[]): ComponentChildren;
}

const numberColumn = (key: string, label: string, fmt: (v: number | undefined) => string): Column => ({
  key,
  label,
  numeric: true,
  value: (r) => num(r, key),
  cell: (r) => fmt(num(r, key)),
});

const COLUMNS: Column[] = [
  {
    key: 'run',
    label: 'run',
    numeric: false,
    value: (r) => r.run,
    cell: (r, runs) => (
      <span class="run-cell">
        <i class="swatch" style={{ background: runColor(runs, r.run) }} />
        {r.run}
      </span>
    ),
  },
  { key: 'id', label: 'child', numeric: true, value: (r) => (typeof r.id === 'number' ? r.id : String(r.id)), cell: (r) => <a href={childHref(r)}>{String(r.id)}</a> },
  numberColumn('reward', 'reward', fmtReward),
  {
    key: 'curve',
    label: 'accuracy',
    numeric: true,
    value: (r) => num(r, 'accuracy'),
    cell: (r, runs) => (
      <span class="curve-cell">
        <Sparkline curve={curveOf(r)} color={runColor(runs, r.run)} />
        <span>{fmtReward(num(r, 'accuracy'))}</span>
      </span>
    ),
  },
  numberColumn('params', 'params', fmtInt),
  numberColumn('multAdds', 'mult-adds', fmtShort),
  numberColumn('seconds', 'seconds', (v) => (v === undefined ? '–' : v.toFixed(1))),
  { key: 'worker', label: 'worker', numeric: false, value: (r) => (typeof r.worker === 'string' ? r.worker : undefined), cell: (r) => (typeof r.worker === 'string' ? r.worker : <span class="muted">–</span>) },
  {
    key: 'status',
    label: 'status',
    numeric: false,
    value: (r) => childStatus(r),
    cell: (r) => {
      const s = childStatus(r);
      return (
        <span class={`status status-${s}`} title={statusDetail(r)}>
          {s}
          {s === 'error' || s === 'rejected' ? <span class="status-detail">{statusDetail(r)}</span> : null}
        </span>
      );
    },
  },
  {
    key: 'finishedAt',
    label: 'finished',
    numeric: false,
    value: (r) => (typeof r.finishedAt === 'string' ? r.finishedAt : undefined),
    cell: (r) => (typeof r.finishedAt === 'string' ? new Date(r.finishedAt).toLocaleTimeString() : '–'),
  },
];

function compare(a: number | string | undefined, b: number | string | undefined): number {
  if (a === undefined) return b === undefined ? 0 : 1; // missing values last, either direction
  if (b === undefined) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

/** The table of children with its filter box. */
export function ChildrenTable({ runs, rows }: { runs: RunSummary[]; rows: ChildRow[] }) {
  const [sort, setSort] = useState<{ key: string; dir: 1 | -1 }>({ key: 'reward', dir: -1 });
  const [text, setText] = useState('');
  const filter = useMemo(() => parseFilter(text), [text]);
  const extra = extraNumericFields(rows);
  const columns = [...COLUMNS, ...extra.map((k) => numberColumn(k, k, (v) => (v === undefined ? '–' : Number.isInteger(v) ? fmtInt(v) : fmtShort(v))))];
  const col = columns.find((c) => c.key === sort.key) ?? columns[2];
  const kept = rows.filter(filter.test);
  const sorted = kept
    .map((r, i) => ({ r, i }))
    .sort((a, b) => {
      const va = col.value(a.r);
      const vb = col.value(b.r);
      if (va === undefined || vb === undefined) return compare(va, vb) || a.i - b.i;
      return sort.dir * compare(va, vb) || a.i - b.i;
    })
    .map((x) => x.r);
  const clickHeader = (key: string, numeric: boolean) =>
    setSort((s) => (s.key === key ? { key, dir: s.dir === 1 ? -1 : 1 } : { key, dir: numeric ? -1 : 1 }));

  return (
    <section class="children">
      <div class="table-bar">
        <h2>Children</h2>
        <input
          type="search"
          class="filter"
          placeholder="filter: reward>0.7 params<50k status:error run:ppo …"
          aria-label="filter children"
          value={text}
          onInput={(e) => setText((e.target as HTMLInputElement).value)}
        />
        <span class="count" data-count={sorted.length}>
          {sorted.length === rows.length ? `${rows.length} children` : `${sorted.length} of ${rows.length} children`}
          {sorted.length > MAX_SHOWN ? `, first ${MAX_SHOWN} shown` : ''}
        </span>
      </div>
      {filter.error ? <p class="filter-error">{filter.error}</p> : null}
      <div class="table-wrap">
        <table class="children-table">
          <thead>
            <tr>
              {columns.map((c) => (
                <th
                  key={c.key}
                  data-key={c.key}
                  class={c.numeric ? 'num' : ''}
                  aria-sort={sort.key === c.key ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none'}
                >
                  <button type="button" onClick={() => clickHeader(c.key, c.numeric)}>
                    {c.label}
                    <span class="arrow">{sort.key === c.key ? (sort.dir === 1 ? '▲' : '▼') : ''}</span>
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {sorted.slice(0, MAX_SHOWN).map((r) => (
              <tr key={`${r.run}/${r.line}`} data-run={r.run} data-child={String(r.id)} class={`row-${childStatus(r)}`}>
                {columns.map((c) => (
                  <td key={c.key} class={c.numeric ? 'num' : ''}>
                    {c.cell(r, runs)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
