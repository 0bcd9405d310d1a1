/**
 * The dashboard page: the runs with their progress, the queue of a distributed search, the plots and
 * the children table (`#/`), and a child's page (`#/child/<run>/<id>`). Bundled by
 * scripts/build-dashboard.mjs into dist/dashboard/app.js, so it needs nothing from the network.
 */
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { QueueSnapshot, RunSummary } from '../protocol.js';
import { ChildPage } from './child-page.js';
import { fmtDuration, fmtReward, latestPerChild } from './format.js';
import { Plots, runColor } from './plots.js';
import { createStore, type State, type Store } from './store.js';
import { ChildrenTable } from './table.js';
import './style.css';

function useStore(store: Store): State {
  const [, setVersion] = useState(0);
  useEffect(() => store.subscribe(() => setVersion(store.get().version)), [store]);
  return store.get();
}

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function progressLine(r: RunSummary): string {
  const p = r.progress;
  const parts = [p.total !== undefined ? `${p.done} / ${p.total} children` : `${p.done} children`];
  if (r.best) parts.push(`best ${fmtReward(r.best.reward)} (child ${String(r.best.id)})`);
  if (p.perHour !== undefined) parts.push(`${p.perHour >= 10 ? p.perHour.toFixed(0) : p.perHour.toFixed(1)} children/h`);
  if (r.state === 'running' && p.etaSeconds !== undefined) parts.push(`ETA ${fmtDuration(p.etaSeconds)}`);
  return parts.join(' · ');
}

function RunsPanel({ state, store }: { state: State; store: Store }) {
  return (
    <section class="runs">
      {state.runs.map((r) => {
        const p = r.progress;
        const pct = p.total ? Math.min(100, (100 * p.done) / p.total) : 0;
        return (
          <div key={r.id} class={`run run-${r.state}${state.hidden.has(r.id) ? ' run-hidden' : ''}`} data-run={r.id}>
            <label class="run-name" title={r.path}>
              <input type="checkbox" checked={!state.hidden.has(r.id)} onChange={() => store.toggleRun(r.id)} aria-label={`show run ${r.id}`} />
              <i class="swatch" style={{ background: runColor(state.runs, r.id) }} />
              <b>{r.id}</b>
              <span class="muted">{[r.strategy, r.dataset].filter(Boolean).join(' · ')}</span>
            </label>
            <span class={`badge badge-${r.state}`}>{r.state}</span>
            <div class="progress-bar">
              <div style={{ width: `${pct}%`, background: runColor(state.runs, r.id) }} />
            </div>
            <div class="progress-line" data-progress={r.id}>
              {progressLine(r)}
            </div>
            {r.stateDetail ? <div class="muted detail">{r.stateDetail}</div> : null}
            {r.warnings.map((w) => (
              <div key={w} class="warning">
                {w}
              </div>
            ))}
          </div>
        );
      })}
    </section>
  );
}

function QueuePanel({ q, runs }: { q: QueueSnapshot; runs: RunSummary[] }) {
  const c = q.counts;
  const since = (iso?: string) => (iso ? fmtDuration((Date.now() - Date.parse(iso)) / 1000) : '');
  return (
    <section class="queue" data-queue={q.queue}>
      <h2>
        Queue <code>{q.queue}</code> <span class="muted">at {q.redis}</span>
      </h2>
      {q.error ? <p class="error">{q.error}</p> : null}
      <p class="queue-depth">
        {c.waiting} waiting · {c.active} training · {c.delayed} delayed · {c.completed} completed · {c.failed} failed
        {Object.entries(q.byRun).map(([run, n]) => (
          <span key={run} class="muted">
            {' '}
            · {run}: {n.waiting} waiting, {n.active} training
          </span>
        ))}
      </p>
      {q.workers.length === 0 ? (
        <p class="muted">no live workers (start one with `nasnet worker --redis {q.redis}`)</p>
      ) : (
        <table class="workers">
          <thead>
            <tr>
              <th>worker</th>
              <th>host</th>
              <th>backend</th>
              <th>busy</th>
              <th>done</th>
              <th>failed</th>
              <th>training now</th>
            </tr>
          </thead>
          <tbody>
            {q.workers.map((w) => (
              <tr key={w.name} data-worker={w.name}>
                <td>{w.name}</td>
                <td>{w.host}</td>
                <td>{w.backend}</td>
                <td class="num">
                  {w.active} / {w.concurrency}
                </td>
                <td class="num">{w.done}</td>
                <td class="num">{w.failed}</td>
                <td>
                  {w.current.length === 0
                    ? '–'
                    : w.current.map((j) => {
                        const run = runs.find((r) => r.config?.runId === j.runId);
                        const label = `${run?.id ?? j.runId} child ${String(j.child)}`;
                        return (
                          <span key={j.jobId} class="current" title={j.jobId}>
                            {label}
                            {j.since ? <span class="muted"> for {since(j.since)}</span> : null}
                          </span>
                        );
                      })}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function App({ store }: { store: Store }) {
  const state = useStore(store);
  const hash = useHash();
  const visibleRuns = state.runs.filter((r) => !state.hidden.has(r.id));
  const rows = useMemo(() => latestPerChild(visibleRuns.flatMap((r) => state.rows.get(r.id) ?? [])), [state.version]);
  const child = /^#\/child\/([^/]+)\/([^/]+)$/.exec(hash);
  return (
    <>
      <header>
        <h1>nasnet dashboard</h1>
        <span class={`connection connection-${state.connection}`} data-connection={state.connection}>
          {state.connection === 'live' ? '● live' : state.connection === 'lost' ? '● reconnecting…' : '● connecting…'}
        </span>
      </header>
      {child ? (
        <ChildPage runId={decodeURIComponent(child[1])} childId={decodeURIComponent(child[2])} runs={state.runs} />
      ) : (
        <main>
          <RunsPanel state={state} store={store} />
          {state.queue ? <QueuePanel q={state.queue} runs={state.runs} /> : null}
          <Plots runs={state.runs} rows={rows} version={state.version} />
          <ChildrenTable runs={state.runs} rows={rows} />
        </main>
      )}
    </>
  );
}

const root = document.getElementById('app')!;
root.replaceChildren(); // the "loading…" placeholder
render(<App store={createStore()} />, root);
