/**
 * The run folders a dashboard serves, watched: file-system events (inotify) wake a read at once, and
 * a poll every second catches what events miss (network file systems, a folder created later). New
 * run folders inside a watched folder of runs join the set.
 */
import { existsSync, type FSWatcher, watch } from 'node:fs';
import type { ChildRow, RunSummary } from './protocol.js';
import { WatchedRun } from './run.js';
import { type ResolvedFolders, runFoldersIn, runId } from './run-folder.js';

/** What a {@link RunSet} reports. */
export type RunSetEvent =
  | { type: 'children'; run: string; rows: ChildRow[] }
  | { type: 'run'; summary: RunSummary }
  | { type: 'reset'; run: string };

/**
 * The watched runs of a dashboard.
 *
 * @example
 * const set = new RunSet(resolveRunFolders(['runs']));
 * const off = set.subscribe((e) => console.log(e.type));
 * set.start();
 * // ...
 * set.close();
 */
export class RunSet {
  private readonly runs = new Map<string, WatchedRun>();
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly lastSummary = new Map<string, string>();
  private readonly listeners = new Set<(e: RunSetEvent) => void>();
  private timer?: NodeJS.Timeout;
  private soon?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly folders: ResolvedFolders,
    private readonly pollMs = 1000,
  ) {
    for (const p of folders.runs) this.add(p);
  }

  private add(path: string): WatchedRun {
    const run = new WatchedRun(runId(path, new Set(this.runs.keys())), path);
    this.runs.set(run.id, run);
    return run;
  }

  /** Reads every run once, then watches. */
  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.pollMs);
    this.timer.unref();
  }

  /** Runs in the order they were added. */
  list(): WatchedRun[] {
    return [...this.runs.values()];
  }

  get(id: string): WatchedRun | undefined {
    return this.runs.get(id);
  }

  /** Calls `listener` for every change; returns the function that stops it. */
  subscribe(listener: (e: RunSetEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: RunSetEvent): void {
    for (const l of this.listeners) l(e);
  }

  private watchFolder(path: string): void {
    if (this.watchers.has(path) || !existsSync(path)) return;
    try {
      const w = watch(path, { persistent: false }, () => this.schedule());
      w.on('error', () => {
        w.close();
        this.watchers.delete(path); // the poll goes on; the watch is tried again at the next tick
      });
      this.watchers.set(path, w);
    } catch {
      // No inotify watches left (ENOSPC) or an unwatchable file system: the poll does the work.
    }
  }

  /** A read shortly after a file-system event (events come in bursts: open, write, close). */
  private schedule(): void {
    if (this.soon || this.closed) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      this.tick();
    }, 25);
  }

  /** Reads every run's changes and reports them. Exposed for tests; the watchers call it. */
  tick(): void {
    if (this.closed) return;
    const known = new Set([...this.runs.values()].map((r) => r.path));
    for (const parent of this.folders.parents) {
      this.watchFolder(parent);
      for (const p of runFoldersIn(parent)) if (!known.has(p)) this.add(p);
    }
    const now = Date.now();
    for (const run of this.runs.values()) {
      this.watchFolder(run.path);
      const { rows, reset } = run.refresh();
      if (reset) this.emit({ type: 'reset', run: run.id });
      if (rows.length > 0 && !reset) this.emit({ type: 'children', run: run.id, rows });
      const summary = run.summary(now);
      const text = JSON.stringify(summary);
      if (text !== this.lastSummary.get(run.id)) {
        this.lastSummary.set(run.id, text);
        this.emit({ type: 'run', summary });
      }
    }
  }

  /** Stops watching. */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.soon);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    this.listeners.clear();
  }
}
