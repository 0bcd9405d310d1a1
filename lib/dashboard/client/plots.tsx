/**
 * The plots (Observable Plot, SVG): reward against child index and against time with each run's best
 * so far, the Pareto views (reward against parameters and against multiply-adds, with each run's
 * front), a child's accuracy curve, and the table's sparklines. Every child is one dot, linked to its
 * page.
 */
import * as Plot from '@observablehq/plot';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { ChildRow, RunSummary } from '../protocol.js';
import { roomyDomain } from './domain.js';
import { childStatus, fmtReward, fmtShort, num } from './format.js';

/** One colour per run (Observable's categorical palette), in the order runs were given. */
export const PALETTE = ['#4269d0', '#efb118', '#ff725c', '#6cc5b0', '#3ca951', '#ff8ab7', '#a463f2', '#97bbf5', '#9c6b4e', '#9498a0'];

/** A run's colour by its position among all runs. */
export function runColor(runs: readonly RunSummary[], id: string): string {
  const i = runs.findIndex((r) => r.id === id);
  return PALETTE[Math.max(i, 0) % PALETTE.length];
}

/** The legend label of a run: its id and strategy. */
export function runLabel(run: RunSummary): string {
  return run.strategy ? `${run.id} · ${run.strategy}` : run.id;
}

/** The page of a child. */
export function childHref(row: ChildRow): string {
  return `#/child/${encodeURIComponent(row.run)}/${encodeURIComponent(String(row.id))}`;
}

interface Point {
  label: string;
  x: number;
  y: number;
  href: string;
  title: string;
}

function tooltip(row: ChildRow, run: RunSummary | undefined): string {
  const status = childStatus(row);
  return [
    `${run?.id ?? row.run} child ${String(row.id)}`,
    `reward ${fmtReward(num(row, 'reward'))}`,
    `params ${fmtShort(num(row, 'params'))}, mult-adds ${fmtShort(num(row, 'multAdds'))}`,
    status === 'ok' ? '' : status,
  ]
    .filter(Boolean)
    .join('\n');
}

/** Renders a Plot figure into a div that follows its container's width. */
function PlotBox(props: { name: string; title: string; make: (width: number) => Element | null; version: unknown; empty?: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setWidth(Math.floor(el.clientWidth)));
    ro.observe(el);
    setWidth(Math.floor(el.clientWidth));
    return () => ro.disconnect();
  }, []);
  useLayoutEffect(() => {
    const el = box.current;
    if (!el || width === 0) return;
    const fig = props.make(Math.max(280, width));
    el.replaceChildren(...(fig ? [fig] : []));
    if (!fig && props.empty) {
      const p = document.createElement('p');
      p.className = 'empty';
      p.textContent = props.empty;
      el.append(p);
    }
  }, [props.version, width]);
  return (
    <section class="plot">
      <h3>{props.title}</h3>
      <div ref={box} class="plot-box" data-plot={props.name} />
    </section>
  );
}

interface PlotsProps {
  /** Every run (colours follow their order); only those with rows are drawn. */
  runs: RunSummary[];
  /** The latest row of each child of the shown runs. */
  rows: ChildRow[];
  version: number;
}

function colorScale(runs: RunSummary[], all: RunSummary[]): Plot.ScaleOptions {
  return { domain: runs.map(runLabel), range: runs.map((r) => runColor(all, r.id)), legend: runs.length > 1 };
}

/** Each run's points, sorted by x (ties: highest y first). */
function perRunByX(points: Point[]): Point[][] {
  const byRun = new Map<string, Point[]>();
  for (const p of points) byRun.set(p.label, [...(byRun.get(p.label) ?? []), p]);
  return [...byRun.values()].map((ps) => ps.sort((a, b) => a.x - b.x || b.y - a.y));
}

/** Best so far along x, per run (a step line). */
function bestSoFar(points: Point[]): Point[] {
  return perRunByX(points).flatMap((ps) => {
    let best = -Infinity;
    return ps.map((p) => ({ ...p, y: (best = Math.max(best, p.y)) }));
  });
}

/** The Pareto front per run: the points no cheaper point beats. */
function paretoFront(points: Point[]): Point[] {
  return perRunByX(points).flatMap((ps) => {
    let best = -Infinity;
    return ps.filter((p) => {
      if (p.y <= best) return false;
      best = p.y;
      return true;
    });
  });
}

function rewardPlot(o: { width: number; points: Point[]; line: Point[]; color: Plot.ScaleOptions; x: Plot.ScaleOptions }): Element | null {
  if (o.points.length === 0) return null;
  return Plot.plot({
    width: o.width,
    height: 300,
    marginLeft: 52,
    marginBottom: 40,
    inset: 8, // a dot at the end of an axis is drawn whole, not cut by the frame
    style: { fontSize: '12px' },
    x: { ...o.x, domain: roomyDomain(o.points.map((p) => p.x)) },
    y: { label: 'reward', grid: true, domain: roomyDomain(o.points.map((p) => p.y)) },
    color: o.color,
    marks: [
      Plot.line(o.line, { x: 'x', y: 'y', stroke: 'label', curve: 'step-after', strokeWidth: 1.5, strokeOpacity: 0.85 }),
      Plot.dot(o.points, { x: 'x', y: 'y', fill: 'label', r: 3.5, stroke: 'white', strokeWidth: 0.6, href: 'href', title: 'title' }),
    ],
  });
}

/** Whole-number ticks for a few children (Plot would put ticks at 0.2, 0.4, ...); undefined for many. */
function integerTicks(points: Point[]): number[] | undefined {
  const max = Math.max(0, ...points.map((p) => p.x));
  return max < 12 ? Array.from({ length: Math.floor(max) + 1 }, (_, i) => i) : undefined;
}

/** Reward by child and over time, and the two Pareto views. */
export function Plots({ runs, rows, version }: PlotsProps) {
  const shown = runs.filter((r) => rows.some((row) => row.run === r.id));
  const byId = new Map(runs.map((r) => [r.id, r]));
  const color = colorScale(shown, runs);
  const position = new Map<string, number>();
  const points = (x: (row: ChildRow, i: number) => number | undefined) => {
    const out: Point[] = [];
    for (const row of rows) {
      const y = num(row, 'reward');
      const run = byId.get(row.run);
      const i = position.get(row.run) ?? 0;
      position.set(row.run, i + 1);
      const xv = x(row, i);
      if (y === undefined || xv === undefined || !run) continue;
      out.push({ label: runLabel(run), x: xv, y, href: childHref(row), title: tooltip(row, run) });
    }
    position.clear();
    return out;
  };

  const byIndex = points((row, i) => num(row, 'index') ?? i);
  // Time since each run's start, in minutes or hours (whichever reads better).
  const startOf = (row: ChildRow) => Date.parse(byId.get(row.run)?.startedAt ?? '');
  const elapsed = points((row) => {
    const t = typeof row.finishedAt === 'string' ? Date.parse(row.finishedAt) - startOf(row) : Number.NaN;
    return Number.isFinite(t) ? t / 60_000 : undefined;
  });
  const hours = elapsed.some((p) => p.x > 180);
  const byTime = hours ? elapsed.map((p) => ({ ...p, x: p.x / 60 })) : elapsed;
  const cost = (field: string) => points((row) => {
    const v = num(row, field);
    return v !== undefined && v > 0 ? v : undefined;
  });
  const byParams = cost('params');
  const byMultAdds = cost('multAdds');
  const costScale = (ps: Point[], label: string): Plot.ScaleOptions => {
    const xs = ps.map((p) => p.x);
    const wide = xs.length > 0 && Math.max(...xs) / Math.min(...xs) > 20;
    return { label, type: wide ? 'log' : 'linear', tickFormat: (v: number) => fmtShort(v), grid: true };
  };

  const views = [
    {
      name: 'reward-index',
      title: 'Reward by child',
      empty: 'no children yet',
      points: byIndex,
      line: bestSoFar(byIndex),
      x: { label: 'child (in finishing order)', grid: true, tickFormat: 'd', ticks: integerTicks(byIndex) },
    },
    {
      name: 'reward-time',
      title: 'Reward over time',
      empty: 'no finish times yet',
      points: byTime,
      line: bestSoFar(byTime),
      x: { label: hours ? 'hours since the run started' : 'minutes since the run started', grid: true },
    },
    { name: 'pareto-params', title: 'Pareto: reward against parameters', empty: 'no parameter counts yet', points: byParams, line: paretoFront(byParams), x: costScale(byParams, 'parameters (proxy network)') },
    {
      name: 'pareto-mult-adds',
      title: 'Pareto: reward against multiply-adds',
      empty: 'no multiply-add counts yet',
      points: byMultAdds,
      line: paretoFront(byMultAdds),
      x: costScale(byMultAdds, 'multiply-adds per image (proxy network)'),
    },
  ];
  return (
    <div class="plots">
      {views.map((v) => (
        <PlotBox key={v.name} name={v.name} title={v.title} version={version} empty={v.empty} make={(width) => rewardPlot({ width, points: v.points, line: v.line, color, x: v.x })} />
      ))}
    </div>
  );
}

/** A child's validation accuracy after each epoch. */
export function CurvePlot({ curve, color }: { curve: number[]; color: string }) {
  const data = curve.map((y, i) => ({ epoch: i + 1, y })).filter((d) => Number.isFinite(d.y));
  // A little room around the values (a one-epoch curve is a single value).
  const ys = data.map((d) => d.y);
  const pad = ys.length > 0 ? Math.max(0.02, (Math.max(...ys) - Math.min(...ys)) * 0.1) : 0;
  const yDomain = ys.length > 0 ? [Math.max(0, Math.min(...ys) - pad), Math.min(1, Math.max(...ys) + pad)] : undefined;
  return (
    <PlotBox
      name="curve"
      title="Validation accuracy by epoch"
      version={curve.join(',')}
      empty="no accuracy curve recorded"
      make={(width) =>
        data.length === 0
          ? null
          : Plot.plot({
              width: Math.min(width, 640),
              height: 240,
              marginLeft: 52,
              x: { label: 'epoch', ticks: curve.length <= 12 ? curve.map((_, i) => i + 1) : undefined, tickFormat: 'd' },
              y: { label: 'validation accuracy', grid: true, domain: yDomain, tickFormat: '.2f' },
              marks: [Plot.line(data, { x: 'epoch', y: 'y', stroke: color }), Plot.dot(data, { x: 'epoch', y: 'y', fill: color, title: (d: { y: number }) => d.y.toFixed(4) })],
            })
      }
    />
  );
}

/** A tiny line of a child's accuracy curve for the table (one value: a dot). */
export function Sparkline({ curve, color }: { curve: number[]; color: string }) {
  const ys = curve.filter(Number.isFinite);
  if (ys.length === 0) return <span class="muted">–</span>;
  const W = 64;
  const H = 18;
  const lo = Math.min(...ys);
  const hi = Math.max(...ys);
  const sx = (i: number) => (curve.length === 1 ? W / 2 : 2 + ((W - 4) * i) / (curve.length - 1));
  const sy = (v: number) => (hi - lo < 1e-9 ? H / 2 : H - 2 - ((H - 4) * (v - lo)) / (hi - lo));
  const pts = curve.map((v, i) => (Number.isFinite(v) ? `${sx(i).toFixed(1)},${sy(v).toFixed(1)}` : '')).filter(Boolean);
  return (
    <svg class="spark" width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`accuracy ${ys.map((v) => v.toFixed(3)).join(', ')}`}>
      {pts.length > 1 ? <polyline points={pts.join(' ')} fill="none" stroke={color} stroke-width="1.5" /> : null}
      <circle cx={sx(curve.length - 1)} cy={sy(ys[ys.length - 1])} r="2" fill={color} />
    </svg>
  );
}
