/**
 * What the dashboard's server sends its page: the JSON of `/api/...` and of the server-sent events.
 * Shared by the server (Node) and the page (browser), so it imports nothing.
 */

/**
 * One child as the table and the plots see it: a `history.jsonl` record without its genotype (the
 * child page fetches that), plus where it came from. Records are read generically: fields this
 * version does not know (e.g. written by a newer search) are kept, and numeric ones become columns.
 */
export interface ChildRow {
  /** The run's id in this dashboard. */
  run: string;
  /** 1-based line of `history.jsonl` this row was read from. */
  line: number;
  /** The child's id (its proposal id); the line number when the record has none. */
  id: number | string;
  /** Every other field of the record, as written (genotype removed). */
  [field: string]: unknown;
}

/** The state of a run's search as seen from its folder. */
export type RunState = 'waiting' | 'running' | 'finished' | 'stopped';

/** How far a run is. */
export interface RunProgress {
  /** Children recorded in history.jsonl. */
  done: number;
  /** Children the search was asked for (config.json), if known. */
  total?: number;
  /** Children finished per hour over the recent ones; undefined with fewer than two. */
  perHour?: number;
  /** Seconds until `total` at that rate; undefined when unknown or finished. */
  etaSeconds?: number;
  /** ISO time of the last finished child. */
  lastAt?: string;
}

/** One run folder the dashboard serves. */
export interface RunSummary {
  /** Stable id in URLs (the folder name, made unique). */
  id: string;
  /** The folder's name. */
  name: string;
  /** The folder's absolute path. */
  path: string;
  state: RunState;
  /** A sentence on the state, e.g. `no new child for 2 h; resume with nasnet search --resume runs/x`. */
  stateDetail?: string;
  strategy?: string;
  dataset?: string;
  /** ISO time the search started (config.json written), if known. */
  startedAt?: string;
  progress: RunProgress;
  best?: { id: number | string; reward: number };
  /** Problems reading the folder (a corrupt line, an unreadable config), each naming file and line. */
  warnings: string[];
  /** The search's `config.json`, as written. */
  config?: Record<string, unknown>;
}

/** A BullMQ worker as the dashboard shows it. */
export interface QueueWorker {
  name: string;
  host: string;
  backend: string;
  concurrency: number;
  active: number;
  done: number;
  failed: number;
  startedAt: string;
  /** The children this worker trains now. */
  current: { jobId: string; runId: string; child: number | string; since?: string }[];
}

/** The BullMQ queue of distributed runs (`--redis`). */
export interface QueueSnapshot {
  redis: string;
  queue: string;
  /** Set when Redis cannot be reached (the rest is then empty or stale). */
  error?: string;
  at: string;
  workers: QueueWorker[];
  counts: { waiting: number; active: number; delayed: number; completed: number; failed: number };
  /** Jobs waiting or active per run id (the `runId` of config.json). */
  byRun: Record<string, { waiting: number; active: number }>;
}

/** A child's page. */
export interface ChildDetail {
  run: RunSummary;
  row: ChildRow;
  /** Earlier records of the same child id (e.g. lower rungs), oldest first. */
  earlier: ChildRow[];
  genotype: unknown;
  /** Shell commands that train or transfer this child's cells, each with a sentence saying what it does. */
  commands: { what: string; command: string }[];
}

/** The server-sent events of `/api/events` (event name → data). */
export interface DashboardEvents {
  /** Sent first on every connection: everything, so a reconnecting page simply starts over. */
  snapshot: { runs: RunSummary[]; rows: ChildRow[]; queue?: QueueSnapshot };
  /** New children of one run (in history order). */
  children: { run: string; rows: ChildRow[] };
  /** A run's summary changed (progress, best, state) or a new run appeared. */
  run: RunSummary;
  /** The queue changed. */
  queue: QueueSnapshot;
}
