/**
 * One run folder as the dashboard holds it: its config, its children (read incrementally from
 * `history.jsonl`), and its summary (progress, best, state).
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { runProgress, runState } from './progress.js';
import type { ChildRow, RunSummary } from './protocol.js';
import { HistoryReader } from './run-folder.js';

/** The files whose changes say a search is alive. */
const ACTIVITY_FILES = ['history.jsonl', 'proposals.jsonl', 'strategy.json', 'config.json'];
/** At most this many warnings are kept per run (the first ones). */
const MAX_WARNINGS = 20;

function mtimeMs(file: string): number | undefined {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * A watched run folder. {@link refresh} reads what changed on disk; the rest answers from memory.
 *
 * @example
 * const run = new WatchedRun('ppo1', '/home/me/runs/ppo1');
 * run.refresh();
 * run.summary().progress; // { done: 20, total: 20, ... }
 */
export class WatchedRun {
  private readonly reader: HistoryReader;
  private list: ChildRow[] = [];
  private byId = new Map<string, ChildRow[]>();
  private genotypes = new Map<number, unknown>();
  private historyWarnings: string[] = [];
  private config?: Record<string, unknown>;
  private configWarning?: string;
  private configMtime = -1;

  constructor(
    readonly id: string,
    readonly path: string,
  ) {
    this.reader = new HistoryReader(join(path, 'history.jsonl'));
  }

  /** Reads what changed: a new or rewritten config.json, lines appended to history.jsonl. */
  refresh(): { rows: ChildRow[]; reset: boolean } {
    this.readConfig();
    const r = this.reader.read();
    if (r.reset) {
      this.list = [];
      this.byId.clear();
      this.genotypes.clear();
      this.historyWarnings = [];
    }
    for (const w of r.warnings) if (this.historyWarnings.length < MAX_WARNINGS) this.historyWarnings.push(w);
    const rows = r.lines.map(({ line, record }) => {
      const { genotype, ...rest } = record;
      const id = typeof rest.id === 'number' || typeof rest.id === 'string' ? rest.id : line;
      const row: ChildRow = { ...rest, run: this.id, line, id };
      if (genotype !== undefined) this.genotypes.set(line, genotype);
      const key = String(id);
      const same = this.byId.get(key);
      if (same) same.push(row);
      else this.byId.set(key, [row]);
      this.list.push(row);
      return row;
    });
    return { rows, reset: r.reset };
  }

  private readConfig(): void {
    const file = join(this.path, 'config.json');
    const m = mtimeMs(file);
    if (m === undefined || m === this.configMtime) return;
    this.configMtime = m;
    try {
      const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('expected a JSON object');
      this.config = v as Record<string, unknown>;
      this.configWarning = undefined;
    } catch (err) {
      // A config being replaced is read again at its next change; until then the last good one stays.
      this.configWarning = `config.json: ${(err as Error).message}`;
    }
  }

  /** Every row, in history order. */
  rows(): readonly ChildRow[] {
    return this.list;
  }

  /** The latest record of child `id`, the earlier ones, and its genotype; undefined if unknown. */
  child(id: string): { row: ChildRow; earlier: ChildRow[]; genotype: unknown } | undefined {
    const all = this.byId.get(id);
    if (!all) return undefined;
    const row = all[all.length - 1];
    return { row, earlier: all.slice(0, -1), genotype: this.genotypes.get(row.line) };
  }

  /** The `runId` the search put in its BullMQ job ids (config.json), if known. */
  searchRunId(): string | undefined {
    const v = this.config?.runId;
    return typeof v === 'string' ? v : undefined;
  }

  /** The run's summary at time `now`. */
  summary(now = Date.now()): RunSummary {
    const c = this.config;
    const total = typeof c?.children === 'number' ? c.children : undefined;
    const progress = runProgress(
      this.list.map((r) => (typeof r.finishedAt === 'string' ? r.finishedAt : undefined)),
      total,
    );
    const times = ACTIVITY_FILES.map((f) => mtimeMs(join(this.path, f))).filter((t): t is number => t !== undefined);
    const { state, detail } = runState({ progress, started: times.length > 0, lastChangeMs: Math.max(0, ...times), now, path: this.path });
    let best: RunSummary['best'];
    for (const r of this.list) {
      if (typeof r.reward === 'number' && Number.isFinite(r.reward) && (!best || r.reward > best.reward)) best = { id: r.id, reward: r.reward };
    }
    // The search began when config.json was written, or before its first child started (a copied folder).
    let started = this.configMtime >= 0 ? this.configMtime : Infinity;
    for (const r of this.list.slice(0, 50)) {
      const t = typeof r.finishedAt === 'string' ? Date.parse(r.finishedAt) - (typeof r.seconds === 'number' ? r.seconds * 1000 : 0) : Number.NaN;
      if (Number.isFinite(t)) started = Math.min(started, t);
    }
    const strategy = typeof c?.strategy === 'string' ? c.strategy : typeof this.list[0]?.strategy === 'string' ? (this.list[0].strategy as string) : undefined;
    return {
      id: this.id,
      name: basename(this.path),
      path: this.path,
      state,
      stateDetail: detail,
      strategy,
      dataset: typeof c?.dataset === 'string' ? c.dataset : undefined,
      startedAt: Number.isFinite(started) ? new Date(started).toISOString() : undefined,
      progress,
      best,
      warnings: this.configWarning ? [this.configWarning, ...this.historyWarnings] : [...this.historyWarnings],
      config: c,
    };
  }
}
