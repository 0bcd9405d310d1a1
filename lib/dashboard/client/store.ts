/**
 * The page's state, kept current by the server's events (`/api/events`): every run's summary, every
 * child row, the queue. A reconnecting stream starts with a full snapshot, so nothing is missed.
 */
import type { ChildRow, DashboardEvents, QueueSnapshot, RunSummary } from '../protocol.js';

/** What the views read. */
export interface State {
  runs: RunSummary[];
  /** Rows of each run, in history order. */
  rows: Map<string, ChildRow[]>;
  queue?: QueueSnapshot;
  connection: 'connecting' | 'live' | 'lost';
  /** Runs the user hid from the plots and the table. */
  hidden: Set<string>;
  /** Grows with every change (views memoize on it). */
  version: number;
}

/** The store: read the state, be told of changes (at most once per frame), hide or show a run. */
export interface Store {
  get(): State;
  subscribe(listener: () => void): () => void;
  toggleRun(id: string): void;
}

/** Opens the event stream and returns the store it feeds. */
export function createStore(url = 'api/events'): Store {
  const state: State = { runs: [], rows: new Map(), connection: 'connecting', hidden: new Set(), version: 0 };
  const listeners = new Set<() => void>();
  let frame = 0;
  const changed = () => {
    state.version++;
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      for (const l of listeners) l();
    });
  };
  const on = <K extends keyof DashboardEvents>(source: EventSource, name: K, handle: (data: DashboardEvents[K]) => void) => {
    source.addEventListener(name, (e) => {
      handle(JSON.parse((e as MessageEvent<string>).data) as DashboardEvents[K]);
      changed();
    });
  };

  const source = new EventSource(url);
  source.onopen = () => {
    state.connection = 'live';
    changed();
  };
  source.onerror = () => {
    state.connection = 'lost'; // EventSource reconnects by itself; the server then sends a snapshot
    changed();
  };
  on(source, 'snapshot', (s) => {
    state.connection = 'live';
    state.runs = s.runs;
    state.rows = new Map(s.runs.map((r) => [r.id, []]));
    for (const row of s.rows) state.rows.get(row.run)?.push(row);
    state.queue = s.queue;
  });
  on(source, 'children', ({ run, rows }) => {
    const list = state.rows.get(run) ?? [];
    const last = list.length > 0 ? list[list.length - 1].line : 0;
    for (const r of rows) if (r.line > last) list.push(r);
    state.rows.set(run, list);
  });
  on(source, 'run', (summary) => {
    const i = state.runs.findIndex((r) => r.id === summary.id);
    if (i >= 0) state.runs[i] = summary;
    else {
      state.runs.push(summary);
      state.rows.set(summary.id, state.rows.get(summary.id) ?? []);
    }
  });
  on(source, 'queue', (q) => {
    state.queue = q;
  });

  return {
    get: () => state,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    toggleRun(id) {
      if (state.hidden.has(id)) state.hidden.delete(id);
      else state.hidden.add(id);
      changed();
    },
  };
}
