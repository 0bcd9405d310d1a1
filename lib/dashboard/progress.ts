/**
 * A run's progress line: children done of the total, the rate over the recent children, the ETA,
 * and whether the search looks alive (something in its folder changed recently).
 */
import type { RunProgress, RunState } from './protocol.js';

/** Finish times used for the rate: the last this many children. */
const RATE_WINDOW = 20;
/** A run with no change in its folder for this long (and 5 mean child intervals) counts as stopped. */
const QUIET_MS = 10 * 60_000;

/**
 * Progress from the children's finish times.
 *
 * @param finishedAt - each child's `finishedAt` (ISO), in history order; unparsable ones are ignored
 * @param total - children the search was asked for, if known
 * @example
 * runProgress(['2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z'], 10); // { done: 2, total: 10, perHour: 60, etaSeconds: 480, ... }
 */
export function runProgress(finishedAt: readonly (string | undefined)[], total: number | undefined): RunProgress {
  const times = finishedAt
    .map((s) => (s === undefined ? Number.NaN : Date.parse(s)))
    .filter(Number.isFinite)
    .slice(-RATE_WINDOW)
    .sort((a, b) => a - b);
  const done = finishedAt.length;
  const p: RunProgress = { done, total };
  if (times.length > 0) p.lastAt = new Date(times[times.length - 1]).toISOString();
  const span = times.length >= 2 ? times[times.length - 1] - times[0] : 0;
  if (span > 0) p.perHour = ((times.length - 1) / span) * 3.6e6;
  if (p.perHour !== undefined && total !== undefined && done < total) p.etaSeconds = ((total - done) / p.perHour) * 3600;
  return p;
}

/**
 * Whether a run is waiting to start, running, finished or stopped, with a sentence for the page.
 *
 * @param o - `progress`; `started` (config.json or history.jsonl exists); `lastChangeMs`: newest
 *   modification time of the run's files; `now`; `path` for the resume hint
 */
export function runState(o: { progress: RunProgress; started: boolean; lastChangeMs: number; now: number; path: string }): { state: RunState; detail?: string } {
  const { progress: p } = o;
  if (!o.started) return { state: 'waiting', detail: 'waiting for the search to write config.json' };
  if (p.total !== undefined && p.done >= p.total) return { state: 'finished' };
  const interval = p.perHour ? 3.6e6 / p.perHour : 0;
  const quiet = o.now - o.lastChangeMs;
  if (quiet <= Math.max(QUIET_MS, 5 * interval)) return { state: 'running' };
  const since = new Date(o.lastChangeMs).toISOString().replace(/\.\d+Z$/, 'Z');
  return { state: 'stopped', detail: `nothing written since ${since}; continue it with \`nasnet search --resume ${o.path}\`` };
}
