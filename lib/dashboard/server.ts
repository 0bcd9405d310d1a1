/**
 * `nasnet dashboard`: a read-only web page over run folders, finished or live. The server (Hono on
 * Node's http) serves the bundled page, a small JSON API, and server-sent events that push new
 * children within a fraction of a second of their history line.
 */
import { readFileSync, realpathSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, sep } from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { drawCell } from '../cells/draw.js';
import { ValidationError } from '../errors.js';
import { checkInteger } from '../util/check.js';
import { type Asset, loadAssets } from './assets.js';
import { childCommands } from './commands.js';
import type { ChildDetail, DashboardEvents, QueueSnapshot } from './protocol.js';
import { createQueueView, jobRunMatcher, type QueueView } from './queue-view.js';
import type { WatchedRun } from './run.js';
import { resolveRunFolders } from './run-folder.js';
import { RunSet, type RunSetEvent } from './watch.js';

/** Options of {@link startDashboard}. */
export interface DashboardOptions {
  /** Run folders, or folders of run folders (each run inside is shown, and new ones as they appear). */
  runs: string[];
  /** Port; default 6060 (the next free one within 20 when taken). 0 = any free port. */
  port?: number;
  /** When the port is taken, fail instead of trying the next ones; default: true when `port` is given. */
  strictPort?: boolean;
  /** Address to listen on; default 127.0.0.1 (this machine only). */
  host?: string;
  /** Redis URL of a distributed search: shows its workers, their current children and the queue. */
  redis?: string;
  /** BullMQ queue name (with `redis`); default 'nasnet'. */
  queue?: string;
  /** Accept run folders that do not exist yet (a search about to start); default false. */
  allowMissing?: boolean;
  /** Whether the child page offers `nasnet transfer` commands; default false. */
  transfer?: boolean;
  /** Folder of the built page; default `dist/dashboard` of this package. */
  assetsDir?: string;
  /** How often run folders are polled besides file-system events, ms; default 1000. */
  pollMs?: number;
}

/** A running dashboard. */
export interface Dashboard {
  /** e.g. `http://127.0.0.1:6060/` */
  readonly url: string;
  readonly port: number;
  /** The runs served now (their ids, names and folders). */
  runs(): { id: string; name: string; path: string }[];
  /** Stops the server, the watchers and the event streams. */
  close(): Promise<void>;
}

/** The run files a page may fetch, by exact name; nothing else in a run folder is served. */
export const SERVED_RUN_FILES: Readonly<Record<string, string>> = {
  'config.json': 'application/json; charset=utf-8',
  'best.json': 'application/json; charset=utf-8',
  'history.jsonl': 'application/x-ndjson; charset=utf-8',
  'reward.svg': 'image/svg+xml',
  'best-normal.svg': 'image/svg+xml',
  'best-reduction.svg': 'image/svg+xml',
  'top.txt': 'text/plain; charset=utf-8',
};

const DEFAULT_PORT = 6060;
const PORT_TRIES = 20;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

function indexHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>nasnet dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="assets/app.css">
<script type="module" src="assets/app.js"></script>
</head>
<body><div id="app"><p class="loading">loading…</p></div></body>
</html>
`;
}

function hostnameOf(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(0, hostHeader.indexOf(']') + 1);
  return hostHeader.replace(/:\d+$/, '');
}

async function listen(server: Server, host: string, port: number, strict: boolean): Promise<number> {
  const tries = strict || port === 0 ? 1 : PORT_TRIES;
  for (let k = 0; k < tries; k++) {
    const p = port === 0 ? 0 : port + k;
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      const onError = (e: NodeJS.ErrnoException) => {
        server.off('listening', onListening);
        resolve(e);
      };
      const onListening = () => {
        server.off('error', onError);
        resolve(undefined);
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(p, host);
    });
    if (!err) return (server.address() as AddressInfo).port;
    if (err.code !== 'EADDRINUSE' || k === tries - 1) {
      const what = err.code === 'EADDRINUSE' ? (tries > 1 ? `ports ${port}–${port + tries - 1} are all in use` : `port ${port} is in use`) : err.message;
      // The advice follows the cause: a busy or privileged port, or a host that is no address of this machine.
      const advice =
        err.code === 'EADDRINUSE'
          ? 'choose another port, or port 0 for any free one'
          : err.code === 'EACCES'
            ? 'ports below 1024 need privileges: choose another port, or port 0 for any free one'
            : 'check --host: an address of this machine (127.0.0.1, 0.0.0.0, ::) or a name that resolves to one';
      throw new ValidationError(`dashboard: cannot listen on ${host}: ${what} (${advice})`);
    }
  }
  throw new Error('unreachable');
}

/**
 * Serves the dashboard of one or more run folders.
 *
 * @param options - see {@link DashboardOptions}
 * @returns the running dashboard; `close()` it to stop
 * @throws ValidationError for a folder that is not a run (naming it), a port in use, an unbuilt page
 * @example
 * const dash = await startDashboard({ runs: ['runs/ppo1', 'runs/compare'], port: 0 });
 * console.log(dash.url); // http://127.0.0.1:41234/
 * await dash.close();
 */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  if (options.runs.length === 0) throw new ValidationError('dashboard: give at least one run folder (or a folder of runs, such as runs/)');
  const host = options.host ?? '127.0.0.1';
  const port = checkInteger(options.port ?? DEFAULT_PORT, 'port', { min: 0, max: 65535 });
  const pollMs = checkInteger(options.pollMs ?? 1000, 'pollMs');
  const assets = loadAssets(options.assetsDir);
  const folders = resolveRunFolders(options.runs, { allowMissing: options.allowMissing });
  const runSet = new RunSet(folders, pollMs);

  let queueView: QueueView | undefined;
  // Everyone listening to /api/events.
  const clients = new Set<(event: keyof DashboardEvents, data: unknown) => void>();
  const broadcast = (event: keyof DashboardEvents, data: unknown) => {
    for (const send of clients) send(event, data);
  };
  const snapshot = (): DashboardEvents['snapshot'] => ({
    runs: runSet.list().map((r) => r.summary()),
    rows: runSet.list().flatMap((r) => r.rows()),
    queue: queueView?.snapshot(),
  });
  runSet.subscribe((e: RunSetEvent) => {
    if (e.type === 'children') broadcast('children', { run: e.run, rows: e.rows });
    else if (e.type === 'run') broadcast('run', e.summary);
    else broadcast('snapshot', snapshot()); // a history file was replaced: start over
  });
  if (options.redis !== undefined) {
    queueView = createQueueView({
      redis: options.redis,
      queue: options.queue,
      pollMs,
      runOf: jobRunMatcher(() => runSet.list().map((r) => [r.id, r.searchRunId()])),
      onChange: (s: QueueSnapshot) => broadcast('queue', s),
    });
  }
  runSet.start();

  const app = new Hono();
  const loopbackOnly = LOOPBACK.has(host);
  const fail = (c: Context, status: 400 | 403 | 404 | 405 | 422 | 500, message: string) => c.json({ error: message }, status);

  app.use('*', async (c, next) => {
    // Bound to loopback, answer only to loopback names: a web page elsewhere cannot reach the runs
    // through a DNS name that resolves to 127.0.0.1 (DNS rebinding).
    const h = c.req.header('host') ?? '';
    if (loopbackOnly && !LOOPBACK.has(hostnameOf(h))) return fail(c, 403, `refused: Host '${h}' is not this machine's loopback address`);
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') return fail(c, 405, `the dashboard is read-only: ${c.req.method} is not allowed`);
    await next();
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Content-Security-Policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:");
  });

  app.get('/', (c) => c.html(indexHtml()));
  app.get('/assets/:name', (c) => {
    const a: Asset | undefined = assets.get(c.req.param('name'));
    if (!a) return fail(c, 404, `no such file: ${c.req.path}`);
    return c.body(new Uint8Array(a.body), 200, { 'Content-Type': a.type, 'Cache-Control': 'no-cache' });
  });

  const runOr404 = (c: Context): WatchedRun | Response => {
    const id = c.req.param('run') ?? '';
    const run = runSet.get(id);
    if (run) return run;
    return fail(c, 404, `no run '${id}' here (runs: ${runSet.list().map((r) => r.id).join(', ')})`);
  };
  const childOr404 = (c: Context, run: WatchedRun) => {
    const id = c.req.param('id') ?? '';
    return run.child(id) ?? fail(c, 404, `run '${run.id}' has no child '${id}'`);
  };

  app.get('/api/runs', (c) => c.json(runSet.list().map((r) => r.summary())));
  app.get('/api/runs/:run', (c) => {
    const run = runOr404(c);
    return run instanceof Response ? run : c.json(run.summary());
  });
  app.get('/api/runs/:run/children', (c) => {
    const run = runOr404(c);
    return run instanceof Response ? run : c.json(run.rows());
  });
  app.get('/api/runs/:run/children/:id', (c) => {
    const run = runOr404(c);
    if (run instanceof Response) return run;
    const child = childOr404(c, run);
    if (child instanceof Response) return child;
    let bestId: unknown;
    try {
      bestId = (JSON.parse(readFileSync(join(run.path, 'best.json'), 'utf8')) as { id?: unknown }).id;
    } catch {
      bestId = undefined;
    }
    const detail: ChildDetail = {
      run: run.summary(),
      row: child.row,
      earlier: child.earlier,
      genotype: child.genotype,
      commands: child.genotype === undefined ? [] : childCommands({ genotype: child.genotype, runPath: run.path, isBest: bestId === child.row.id, transfer: options.transfer ?? false }),
    };
    return c.json(detail);
  });
  app.get('/api/runs/:run/children/:id/genotype.json', (c) => {
    const run = runOr404(c);
    if (run instanceof Response) return run;
    const child = childOr404(c, run);
    if (child instanceof Response) return child;
    if (child.genotype === undefined) return fail(c, 404, `child '${child.row.id}' of run '${run.id}' has no genotype in history.jsonl`);
    c.header('Content-Disposition', `attachment; filename="${run.id}-child-${String(child.row.id).replace(/[^A-Za-z0-9_-]/g, '_')}.json"`);
    return c.json(child.genotype);
  });
  app.get('/api/runs/:run/children/:id/cells/:kind', (c) => {
    const run = runOr404(c);
    if (run instanceof Response) return run;
    const child = childOr404(c, run);
    if (child instanceof Response) return child;
    const kind = c.req.param('kind');
    if (kind !== 'normal.svg' && kind !== 'reduction.svg') return fail(c, 404, `no cell '${kind}' (normal.svg or reduction.svg)`);
    try {
      return c.body(drawCell(child.genotype as never, kind === 'normal.svg' ? 'normal' : 'reduction'), 200, { 'Content-Type': 'image/svg+xml' });
    } catch (err) {
      return fail(c, 422, `child '${child.row.id}' of run '${run.id}': cannot draw its ${kind.replace('.svg', '')} cell: ${(err as Error).message}`);
    }
  });
  app.get('/api/runs/:run/files/:name', (c) => {
    const run = runOr404(c);
    if (run instanceof Response) return run;
    const name = c.req.param('name');
    const type = SERVED_RUN_FILES[name];
    if (type === undefined) return fail(c, 404, `refused: '${name}' is not a run file this dashboard serves (${Object.keys(SERVED_RUN_FILES).join(', ')})`);
    try {
      // A link inside the run folder pointing elsewhere is not followed out of it.
      const root = realpathSync(run.path);
      const file = realpathSync(join(run.path, name));
      if (!file.startsWith(root + sep)) return fail(c, 404, `refused: ${name} in run '${run.id}' points outside its folder`);
      return c.body(new Uint8Array(readFileSync(file)), 200, { 'Content-Type': type });
    } catch {
      return fail(c, 404, `run '${run.id}' has no ${name} (yet)`);
    }
  });
  app.get('/api/queue', async (c) => {
    if (!queueView) return fail(c, 404, 'no queue: start the dashboard with --redis URL to see a distributed search');
    return c.json(queueView.snapshot() ?? (await queueView.poll()));
  });

  const enders = new Set<() => void>();
  app.get('/api/events', (c) =>
    streamSSE(c, async (stream) => {
      let chain: Promise<unknown> = Promise.resolve();
      const send = (event: keyof DashboardEvents, data: unknown) => {
        chain = chain.then(() => (stream.aborted ? undefined : stream.writeSSE({ event, data: JSON.stringify(data) }))).catch(() => undefined);
      };
      send('snapshot', snapshot());
      clients.add(send);
      const keepAlive = setInterval(() => {
        chain = chain.then(() => stream.write(': keep-alive\n\n')).catch(() => undefined);
      }, 15_000);
      await new Promise<void>((resolve) => {
        enders.add(resolve);
        stream.onAbort(resolve);
      });
      clients.delete(send);
      clearInterval(keepAlive);
      await chain;
    }),
  );
  app.notFound((c) => fail(c, 404, `no such page: ${c.req.path}`));
  app.onError((err, c) => fail(c, 500, err.message));

  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  let bound: number;
  try {
    bound = await listen(server, host, port, options.strictPort ?? options.port !== undefined);
  } catch (err) {
    runSet.close();
    await queueView?.close();
    throw err;
  }
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${bound}/`,
    port: bound,
    runs: () => runSet.list().map((r) => ({ id: r.id, name: r.path.split(sep).pop() ?? r.id, path: r.path })),
    async close() {
      runSet.close();
      await queueView?.close();
      for (const end of enders) end();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
