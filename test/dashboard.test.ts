/**
 * `nasnet dashboard` without a browser: which folders are runs, history.jsonl read incrementally,
 * progress and ETA, the table filter, the child commands, and the HTTP server (JSON API, served
 * files, server-sent events within two seconds of a history line, refused path traversal, Host
 * check, read-only, clear errors). The page itself is tested in a real browser in
 * dashboard-browser.test.ts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roomyDomain } from '../lib/dashboard/client/domain.js';
import { parseFilter, parseQuantity } from '../lib/dashboard/client/filter.js';
import { extraNumericFields, fmtDuration, latestPerChild } from '../lib/dashboard/client/format.js';
import { childCommands, shellQuote } from '../lib/dashboard/commands.js';
import { runProgress, runState } from '../lib/dashboard/progress.js';
import type { ChildDetail, ChildRow, RunSummary } from '../lib/dashboard/protocol.js';
import { HistoryReader, resolveRunFolders, runId } from '../lib/dashboard/run-folder.js';
import { type Dashboard, startDashboard } from '../lib/dashboard/server.js';
import { ValidationError } from '../lib/errors.js';
import { writeRunFixture } from './helpers/run-fixture.js';

const root = mkdtempSync(join(tmpdir(), 'nasnet-dashboard-'));
const assets = join(root, 'assets');
mkdirSync(assets);
writeFileSync(join(assets, 'app.js'), 'console.log("page");\n');
writeFileSync(join(assets, 'app.css'), 'body{}\n');

afterAll(() => rmSync(root, { recursive: true, force: true }));

const row = (over: Partial<ChildRow>): ChildRow => ({ run: 'r', line: 1, id: 0, ...over });

describe('run folders', () => {
  it('takes run folders as they are and expands a folder of runs', () => {
    const a = writeRunFixture(join(root, 'folders', 'compare', 'ppo-seed1'), { children: 2 });
    writeRunFixture(join(root, 'folders', 'compare', 'random-seed1'), { children: 2 });
    mkdirSync(join(root, 'folders', 'compare', 'not-a-run'));
    expect(resolveRunFolders([a.path])).toEqual({ runs: [a.path], parents: [] });
    const r = resolveRunFolders([join(root, 'folders', 'compare')]);
    expect(r.runs.map((p) => p.split('/').pop())).toEqual(['ppo-seed1', 'random-seed1']);
    expect(r.parents).toEqual([join(root, 'folders', 'compare')]);
  });

  it('names the folder and the problem when it is not a run', () => {
    mkdirSync(join(root, 'folders', 'empty'), { recursive: true });
    writeFileSync(join(root, 'folders', 'file.txt'), 'x');
    expect(() => resolveRunFolders([join(root, 'folders', 'empty')])).toThrow(ValidationError);
    expect(() => resolveRunFolders([join(root, 'folders', 'empty')])).toThrow(
      `${join(root, 'folders', 'empty')} is not a run folder: it holds no config.json or history.jsonl, and no folder inside it does (a run folder is what \`nasnet search --run DIR\` writes)`,
    );
    expect(() => resolveRunFolders([join(root, 'folders', 'missing')])).toThrow(`${join(root, 'folders', 'missing')}: no such folder`);
    expect(() => resolveRunFolders([join(root, 'folders', 'file.txt')])).toThrow('file.txt is a file, not a run folder');
    // A search about to start (nasnet search --dashboard): accepted as a run that is waiting.
    expect(resolveRunFolders([join(root, 'folders', 'missing')], { allowMissing: true }).runs).toEqual([join(root, 'folders', 'missing')]);
  });

  it('gives runs URL-safe, unique ids', () => {
    expect(runId('/x/runs/2026-01-01T10:00', new Set())).toBe('2026-01-01T10_00');
    expect(runId('/y/ppo', new Set(['ppo']))).toBe('ppo-2');
    expect(runId('/y/..', new Set())).toBe('_');
  });
});

describe('history.jsonl, read incrementally', () => {
  it('returns only new complete lines, waits for a torn last line, skips and reports a corrupt one', () => {
    const file = join(root, 'h1.jsonl');
    writeFileSync(file, '{"id":0,"reward":0.5}\n{"id":1,"rew');
    const reader = new HistoryReader(file);
    expect(reader.read()).toEqual({ lines: [{ line: 1, record: { id: 0, reward: 0.5 } }], warnings: [], reset: false });
    expect(reader.read().lines).toEqual([]);
    appendFileSync(file, 'ard":0.6}\nnot json\n[1,2]\n\n{"id":2,"extra":{"a":1}}\n');
    const r = reader.read();
    expect(r.lines).toEqual([
      { line: 2, record: { id: 1, reward: 0.6 } },
      { line: 6, record: { id: 2, extra: { a: 1 } } },
    ]);
    expect(r.warnings).toHaveLength(2);
    expect(r.warnings[0]).toMatch(/^h1\.jsonl:3: not valid JSON \(.+\); line skipped$/);
    expect(r.warnings[1]).toBe('h1.jsonl:4: expected a JSON object (one child) but found an array; line skipped');
  });

  it('starts over when the file is replaced or shrinks, and waits for a file not written yet', () => {
    const file = join(root, 'h2.jsonl');
    const reader = new HistoryReader(file);
    expect(reader.read()).toEqual({ lines: [], warnings: [], reset: false });
    writeFileSync(file, '{"id":0}\n{"id":1}\n');
    expect(reader.read().lines).toHaveLength(2);
    writeFileSync(`${file}.new`, '{"id":9}\n');
    rmSync(file);
    symlinkSync(`${file}.new`, file);
    const r = reader.read();
    expect(r.reset).toBe(true);
    expect(r.lines).toEqual([{ line: 1, record: { id: 9 } }]);
  });
});

describe('progress and state', () => {
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const at = (min: number) => new Date(t0 + min * 60_000).toISOString();

  it('rate over the recent children and the ETA to the total', () => {
    const p = runProgress([at(0), at(1), at(2), undefined, at(4)], 10);
    expect(p.done).toBe(5);
    expect(p.total).toBe(10);
    expect(p.perHour).toBeCloseTo(45, 6); // 3 intervals in 4 minutes
    expect(p.etaSeconds).toBeCloseTo((5 / 45) * 3600, 6);
    expect(p.lastAt).toBe(at(4));
    expect(runProgress([at(0)], 10)).toEqual({ done: 1, total: 10, lastAt: at(0) });
    expect(runProgress([at(0), at(1)], 2).etaSeconds).toBeUndefined();
  });

  it('waiting, running, finished, stopped (with the resume command)', () => {
    const p = runProgress([at(0), at(1)], 10);
    const base = { progress: p, started: true, now: t0 + 5 * 60_000, path: '/runs/x' };
    expect(runState({ ...base, started: false, lastChangeMs: 0 })).toEqual({ state: 'waiting', detail: 'waiting for the search to write config.json' });
    expect(runState({ ...base, lastChangeMs: t0 + 60_000 }).state).toBe('running');
    expect(runState({ ...base, progress: runProgress([at(0), at(1)], 2), lastChangeMs: 0 }).state).toBe('finished');
    expect(runState({ ...base, now: t0 + 3.6e6, lastChangeMs: t0 + 60_000 })).toEqual({
      state: 'stopped',
      detail: 'nothing written since 2026-01-01T00:01:00Z; continue it with `nasnet search --resume /runs/x`',
    });
  });

  it('formats durations', () => {
    expect([fmtDuration(42), fmtDuration(12 * 60), fmtDuration(3 * 3600 + 300), fmtDuration(50 * 3600)]).toEqual(['42 s', '12 min', '3 h 5 min', '2 d 2 h']);
  });
});

describe('table helpers', () => {
  const rows = [
    row({ id: 0, line: 1, reward: 0.72, params: 40_000, worker: 'gpu1' }),
    row({ id: 1, line: 2, reward: 0.61, params: 90_000, error: 'worker died' }),
    row({ id: 2, line: 3, reward: 0.8, params: 2_000_000, diverged: false, rung: 2 }),
    row({ id: 3, line: 4, run: 'other', reward: 0, rejected: 'params 300000 > 200000' }),
  ];
  const ids = (text: string) => rows.filter(parseFilter(text).test).map((r) => r.id);

  it('filters by numeric comparisons, field text and free text', () => {
    expect(ids('reward>0.7')).toEqual([0, 2]);
    expect(ids('params<=90k')).toEqual([0, 1]);
    expect(ids('params>1.5M reward>=0.8')).toEqual([2]);
    expect(ids('status:error')).toEqual([1]);
    expect(ids('status=rejected')).toEqual([3]);
    expect(ids('run:oth')).toEqual([3]);
    expect(ids('gpu1')).toEqual([0]);
    expect(ids('died')).toEqual([1]);
    expect(ids('rung=2')).toEqual([2]);
    expect(ids('')).toEqual([0, 1, 2, 3]);
    expect(parseFilter('reward>abc').error).toBe("reward>abc: 'abc' is not a number");
    expect([parseQuantity('50k'), parseQuantity('1.5M'), parseQuantity('3e4'), parseQuantity('x')]).toEqual([50_000, 1_500_000, 30_000, undefined]);
  });

  it('shows numeric fields it does not know as columns, and one row per child', () => {
    expect(extraNumericFields(rows)).toEqual(['rung']);
    const again = row({ id: 0, line: 5, reward: 0.75 });
    expect(latestPerChild([...rows, again]).map((r) => [r.run, r.id, r.line])).toEqual([
      ['r', 1, 2],
      ['r', 2, 3],
      ['r', 0, 5],
      ['other', 3, 4],
    ]);
  });
});

describe('plot domains', () => {
  it('gives room around one value (or equal ones), and leaves a spread to Plot', () => {
    const [lo, hi] = roomyDomain([0.608]) ?? [];
    expect(lo).toBeCloseTo(0.5776, 12);
    expect(hi).toBeCloseTo(0.6384, 12);
    expect(roomyDomain([0, 0, Number.NaN])).toEqual([-0.01, 0.01]);
    expect(roomyDomain([240_002, 240_002])).toEqual([228_001.9, 252_002.1]);
    expect(roomyDomain([0.6, 0.7])).toBeUndefined();
    expect(roomyDomain([])).toBeUndefined();
  });
});

describe('child commands', () => {
  it('uses best.json for the best child and inline JSON (shell-quoted) otherwise', () => {
    const g = { normal: [{ inputs: [0, 1], ops: ["it's", 'x'], combine: 'add' }] };
    const best = childCommands({ genotype: g, runPath: '/runs/my run', isBest: true, transfer: false });
    expect(best.map((c) => c.command)).toEqual([
      "nasnet count --genotype '/runs/my run/best.json' --dataset cifar10 --n 6 --penultimate 768",
      "nasnet train --genotype '/runs/my run/best.json' --dataset cifar10 --n 6 --penultimate 768 --epochs 600 --cutout 16",
    ]);
    const other = childCommands({ genotype: g, runPath: '/runs/x', isBest: false, transfer: true });
    expect(other[1].command).toBe(`nasnet train --genotype ${shellQuote(JSON.stringify(g))} --dataset cifar10 --n 6 --penultimate 768 --epochs 600 --cutout 16`);
    expect(shellQuote(JSON.stringify(g))).toBe(`'{"normal":[{"inputs":[0,1],"ops":["it'\\''s","x"],"combine":"add"}]}'`);
    expect(other.map((c) => c.command.split(' --')[0].split(' ').slice(0, 2).join(' '))).toEqual(['nasnet count', 'nasnet train', 'nasnet transfer', 'nasnet transfer']);
    expect(other[3].command).toMatch(/ --to mobile$/);
  });
});

/** GET with the path sent exactly as given (no URL normalization), and an optional Host header. */
function rawGet(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type'] ?? '') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads server-sent events from `url` until `until` returns true for one (or the timeout). */
async function readEvents(url: string, until: (event: string, data: unknown) => boolean, timeoutMs: number, onOpen?: () => void): Promise<{ event: string; data: unknown; at: number }[]> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  const seen: { event: string; data: unknown; at: number }[] = [];
  try {
    const res = await fetch(url, { signal: ctl.signal });
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    onOpen?.();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let k = buf.indexOf('\n\n');
      while (k >= 0) {
        const block = buf.slice(0, k);
        buf = buf.slice(k + 2);
        k = buf.indexOf('\n\n');
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = block
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n');
        if (!event) continue;
        const parsed = JSON.parse(data) as unknown;
        seen.push({ event, data: parsed, at: Date.now() });
        if (until(event, parsed)) {
          ctl.abort();
          return seen;
        }
      }
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  } finally {
    clearTimeout(timer);
  }
  return seen;
}

describe('the server', () => {
  let dash: Dashboard;
  const runs = join(root, 'served');
  const a = writeRunFixture(join(runs, 'ppo-a'), { children: 6, total: 10, strategy: 'ppo', seed: 2, start: Date.now() - 10 * 60_000 });
  const b = writeRunFixture(join(runs, 'random-b'), { children: 3, strategy: 'random', seed: 3 });
  writeFileSync(join(a.path, 'reward.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(a.path, 'strategy.json'), '{"secret":"controller weights"}');
  const port = () => dash.port;

  beforeAll(async () => {
    dash = await startDashboard({ runs: [runs], port: 0, assetsDir: assets, pollMs: 200 });
  });
  afterAll(async () => {
    await dash?.close();
  });

  it('listens on loopback and lists the runs of a folder of runs with progress and best', async () => {
    expect(dash.url).toBe(`http://127.0.0.1:${dash.port}/`);
    const list = (await (await fetch(`${dash.url}api/runs`)).json()) as RunSummary[];
    expect(list.map((r) => [r.id, r.strategy, r.progress.done, r.progress.total, r.state])).toEqual([
      ['ppo-a', 'ppo', 6, 10, 'running'],
      ['random-b', 'random', 3, 3, 'finished'],
    ]);
    const bestA = a.entries.reduce((x, y) => (y.reward > x.reward ? y : x));
    expect(list[0].best).toEqual({ id: bestA.id, reward: bestA.reward });
    expect(list[0].progress.perHour).toBeCloseTo(60, 6); // one child a minute
    expect(list[0].progress.etaSeconds).toBeCloseTo(4 * 60, 6);
  });

  it('serves children without their genotypes, and a child with genotype, drawings and commands', async () => {
    const rows = (await (await fetch(`${dash.url}api/runs/ppo-a/children`)).json()) as ChildRow[];
    expect(rows).toHaveLength(6);
    expect(rows[2]).toMatchObject({ run: 'ppo-a', line: 3, id: 2, reward: a.entries[2].reward, params: a.entries[2].params });
    expect(rows[2].genotype).toBeUndefined();
    const best = a.entries.reduce((x, y) => (y.reward > x.reward ? y : x));
    const d = (await (await fetch(`${dash.url}api/runs/ppo-a/children/${best.id}`)).json()) as ChildDetail;
    expect(d.genotype).toEqual(best.genotype);
    expect(d.commands[1].command).toBe(`nasnet train --genotype ${join(a.path, 'best.json')} --dataset cifar10 --n 6 --penultimate 768 --epochs 600 --cutout 16`);
    const svg = await fetch(`${dash.url}api/runs/ppo-a/children/${best.id}/cells/reduction.svg`);
    expect(svg.headers.get('content-type')).toBe('image/svg+xml');
    const text = await svg.text();
    expect(text).toContain('<title>reduction cell</title>');
    const g = await fetch(`${dash.url}api/runs/ppo-a/children/0/genotype.json`);
    expect(g.headers.get('content-disposition')).toBe('attachment; filename="ppo-a-child-0.json"');
    expect(await g.json()).toEqual(a.entries[0].genotype);
    expect((await fetch(`${dash.url}api/runs/ppo-a/files/reward.svg`)).status).toBe(200);
    expect((await rawGet(port(), '/api/runs/ppo-a/children/99')).body).toBe(JSON.stringify({ error: "run 'ppo-a' has no child '99'" }));
  });

  it('serves the page and its files by exact name only', async () => {
    const html = await rawGet(port(), '/');
    expect(html.status).toBe(200);
    expect(html.body).toContain('<script type="module" src="assets/app.js"></script>');
    const js = await rawGet(port(), '/assets/app.js');
    expect([js.status, js.type, js.body]).toEqual([200, 'text/javascript; charset=utf-8', 'console.log("page");\n']);
  });

  it('refuses path traversal, files it does not serve, other Host names and writes', async () => {
    const attempts = [
      '/assets/../../package.json',
      '/assets/..%2f..%2fpackage.json',
      '/assets/%2e%2e/%2e%2e/package.json',
      '/api/runs/..%2f..%2f..%2fetc/files/passwd',
      '/api/runs/ppo-a/files/..%2f..%2f..%2f..%2fetc%2fpasswd',
      '/api/runs/ppo-a/files/strategy.json',
      '/api/runs/ppo-a/files/..%2fppo-a%2fconfig.json',
      '/api/runs/%2e%2e/files/config.json',
      '/../../../../etc/passwd',
      '/api/runs/ppo-a/children/0/cells/..%2f..%2f..%2fpackage.json',
    ];
    for (const path of attempts) {
      const r = await rawGet(port(), path);
      expect(r.status, path).toBe(404);
      expect(r.body, path).not.toMatch(/root:|"name": ?"nasnet"|controller weights/);
    }
    expect((await rawGet(port(), '/api/runs/ppo-a/files/strategy.json')).body).toContain("refused: 'strategy.json' is not a run file this dashboard serves");
    // A link inside the run folder to a file outside it is not followed.
    symlinkSync('/etc/passwd', join(b.path, 'top.txt'));
    const link = await rawGet(port(), '/api/runs/random-b/files/top.txt');
    expect([link.status, link.body]).toEqual([404, JSON.stringify({ error: "refused: top.txt in run 'random-b' points outside its folder" })]);
    const rebinding = await rawGet(port(), '/api/runs', { Host: `evil.example:${port()}` });
    expect([rebinding.status, rebinding.body]).toEqual([403, JSON.stringify({ error: `refused: Host 'evil.example:${port()}' is not this machine's loopback address` })]);
    expect((await rawGet(port(), '/api/runs', { Host: `localhost:${port()}` })).status).toBe(200);
    const post = await rawGet(port(), '/api/runs', {}, 'POST');
    expect([post.status, post.body]).toEqual([405, JSON.stringify({ error: 'the dashboard is read-only: POST is not allowed' })]);
    expect((await rawGet(port(), '/api/queue')).body).toBe(JSON.stringify({ error: 'no queue: start the dashboard with --redis URL to see a distributed search' }));
  });

  it('pushes a new child within two seconds of its history line, and warns of a corrupt line', async () => {
    let appendedAt = 0;
    const events = await readEvents(
      `${dash.url}api/events`,
      (event, data) => event === 'run' && (data as RunSummary).id === 'ppo-a' && (data as RunSummary).warnings.length > 0,
      10_000,
      () => {
        setTimeout(() => {
          appendedAt = Date.now();
          a.append({ reward: 0.99, accuracy: 0.99, rung: 3 } as never);
          appendFileSync(join(a.path, 'history.jsonl'), '{"broken\n');
        }, 300);
      },
    );
    expect(events[0].event).toBe('snapshot');
    const snap = events[0].data as { runs: RunSummary[]; rows: ChildRow[] };
    expect(snap.runs.map((r) => r.id)).toEqual(['ppo-a', 'random-b']);
    expect(snap.rows).toHaveLength(9);
    const child = events.find((e) => e.event === 'children');
    expect(child?.data).toMatchObject({ run: 'ppo-a', rows: [{ id: 6, line: 7, reward: 0.99, rung: 3 }] });
    expect(child!.at - appendedAt).toBeLessThan(2000);
    const summary = events[events.length - 1].data as RunSummary;
    expect(summary.best).toEqual({ id: 6, reward: 0.99 });
    expect(summary.progress.done).toBe(7);
    expect(summary.warnings[0]).toMatch(/^history\.jsonl:8: not valid JSON/);
  });

  it('adds a run created later in a watched folder of runs', async () => {
    const events = await readEvents(
      `${dash.url}api/events`,
      (event, data) => event === 'run' && (data as RunSummary).id === 'late',
      10_000,
      () => setTimeout(() => writeRunFixture(join(runs, 'late'), { children: 1, total: 5 }), 200),
    );
    expect(events.some((e) => e.event === 'run' && (e.data as RunSummary).id === 'late')).toBe(true);
    expect(dash.runs().map((r) => r.id)).toContain('late');
  });
});

describe('starting the server', () => {
  const run = writeRunFixture(join(root, 'start', 'r'), { children: 1 });

  it('names a folder that is not a run, an unbuilt page, and a port in use', async () => {
    await expect(startDashboard({ runs: [join(root, 'start')], port: 0, assetsDir: join(root, 'nothing') })).rejects.toThrow(
      `the dashboard page is not built (${join(root, 'nothing', 'app.js')} is missing): run \`npm run build\``,
    );
    await expect(startDashboard({ runs: [], assetsDir: assets })).rejects.toThrow('dashboard: give at least one run folder');
    mkdirSync(join(root, 'start', 'empty'));
    await expect(startDashboard({ runs: [join(root, 'start', 'empty')], port: 0, assetsDir: assets })).rejects.toThrow('is not a run folder');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const busy = (blocker.address() as { port: number }).port;
    try {
      await expect(startDashboard({ runs: [run.path], port: busy, assetsDir: assets })).rejects.toThrow(
        `dashboard: cannot listen on 127.0.0.1: port ${busy} is in use (choose another port, or port 0 for any free one)`,
      );
      // Without a port of its own choosing, it takes the next free one.
      const d = await startDashboard({ runs: [run.path], port: busy, strictPort: false, assetsDir: assets });
      expect(d.port).toBeGreaterThan(busy);
      await d.close();
    } finally {
      blocker.close();
    }
  });
});

describe('nasnet dashboard (CLI)', () => {
  const cliMain = "import { main } from './lib/cli/main.ts'; await main(['node', 'nasnet', ...process.argv.slice(1)]);";

  it('fails with one line naming a folder that is not a run', () => {
    const empty = join(root, 'cli', 'empty');
    mkdirSync(empty, { recursive: true });
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', cliMain, 'dashboard', empty, '--port', '0'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      `nasnet: ${empty} is not a run folder: it holds no config.json or history.jsonl, and no folder inside it does (a run folder is what \`nasnet search --run DIR\` writes)`,
    );
  });

  /** Runs the CLI and resolves with the dashboard URL it prints on stderr. */
  const startCli = (args: string[]) => {
    const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', cliMain, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    const url = new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no URL printed: ${err}`)), 60_000);
      p.stderr.on('data', () => {
        const m = /nasnet dashboard: (http:\/\/127\.0\.0\.1:\d+\/) \(1 run; read-only; Ctrl-C to stop\)/.exec(err);
        if (m) {
          clearTimeout(t);
          resolve(m[1]);
        }
      });
      p.on('exit', () => reject(new Error(`exited: ${err}`)));
    });
    const stop = () =>
      new Promise<number | null>((resolve) => {
        p.on('exit', (c) => resolve(c));
        p.kill('SIGINT');
      });
    return { url, stop, stderr: () => err };
  };

  it('prints the URL, serves the runs, and stops on SIGINT', async () => {
    const run = writeRunFixture(join(root, 'cli', 'quick'), { children: 2 });
    // It serves the package's bundled page (dist/dashboard, built by `npm run build`, which `npm ci` runs).
    const cli = startCli(['dashboard', run.path, '--port', '0']);
    const url = await cli.url;
    const runsList = (await (await fetch(`${url}api/runs`)).json()) as RunSummary[];
    expect(runsList.map((r) => [r.id, r.progress.done])).toEqual([['quick', 2]]);
    expect((await fetch(url)).status).toBe(200);
    expect(await cli.stop()).toBe(0);
  });

  it('nasnet search --dashboard serves the search it runs, live, and stays up until Ctrl-C', async () => {
    const runDir = join(root, 'cli', 'searched');
    const cli = startCli(['search', '--dashboard', '--dashboard-port', '0', '--run', runDir, '--strategy', 'random', '--children', '2', '--filters', '4', '--max-batches', '2', '--max-validation', '64', '--json']);
    const url = await cli.url;
    const seen = new Set<number>();
    let summary: RunSummary | undefined;
    for (const t0 = Date.now(); Date.now() - t0 < 120_000; ) {
      summary = ((await (await fetch(`${url}api/runs`)).json()) as RunSummary[])[0];
      seen.add(summary.progress.done);
      if (summary.state === 'finished') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(summary).toMatchObject({ id: 'searched', state: 'finished', strategy: 'random', progress: { done: 2, total: 2 } });
    expect(seen.has(0) || seen.has(1)).toBe(true); // it was watched while the search ran
    await new Promise((r) => setTimeout(r, 300));
    expect(cli.stderr()).toContain(`nasnet dashboard: the search is done; the page stays at ${url} until Ctrl-C`);
    const rows = (await (await fetch(`${url}api/runs/searched/children`)).json()) as ChildRow[];
    expect(rows.map((r) => String(r.worker).startsWith('local:'))).toEqual([true, true]);
    expect(await cli.stop()).toBe(0);
  });
});
