/**
 * The dashboard of a live distributed search: a real Redis, a BullMQ worker (in this process, with a
 * scripted trainer that holds its children until released), a search over BullMQ writing its run
 * folder, and the dashboard with --redis showing the worker, the children it trains now and the
 * queue depth of the run; then each history line names the worker that trained the child. Skipped
 * with the reason where redis-server is missing; CI runs it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildRow, QueueSnapshot, RunSummary } from '../lib/dashboard/protocol.js';
import { type Dashboard, startDashboard } from '../lib/dashboard/server.js';
import { searchCells } from '../lib/search/search.js';
import type { ChildJob, ChildResult } from '../lib/search/types.js';
import { type RunningWorker, startWorker } from '../lib/search/worker.js';
import { type BrowserPage, bundlePage, openPage, screenshotDir } from './helpers/browser.js';
import { waitFor } from './helpers/bullmq-procs.js';
import { needChromium, needRedis } from './helpers/optional.js';
import { dropQueues, testRedis, uniqueQueue } from './helpers/redis.js';
import { writeRunFixture } from './helpers/run-fixture.js';
import { TINY_PROXY } from './helpers/tiny-proxy.js';

const need = needRedis();
const needBrowser = needChromium();

/** A trainer that holds each child until the test releases it. */
function heldTrainer(): { held: { job: ChildJob; release: () => void }[]; trainer: (job: ChildJob) => Promise<ChildResult> } {
  const held: { job: ChildJob; release: () => void }[] = [];
  const trainer = (job: ChildJob) =>
    new Promise<ChildResult>((resolve) => {
      const accuracy = 0.5 + (job.seed % 40) / 100;
      held.push({ job, release: () => resolve({ accuracy, curve: [accuracy], params: 1000 + job.id, multAdds: 5000, seconds: 1, diverged: false }) });
    });
  return { held, trainer };
}

describe.skipIf(need.skip)(need.label('dashboard of a distributed search (BullMQ)'), () => {
  const root = mkdtempSync(join(tmpdir(), 'nasnet-dashboard-queue-'));
  const assets = join(root, 'assets');
  const queue = uniqueQueue('dash');
  let redis: { url: string; stop(): Promise<void> };
  let worker: RunningWorker | undefined;
  const dashboards: Dashboard[] = [];

  beforeAll(async () => {
    need.require();
    redis = await testRedis();
    mkdirSync(assets);
    writeFileSync(join(assets, 'app.js'), ''); // the page is not under test here
  });
  afterAll(async () => {
    await worker?.close(true);
    for (const d of dashboards) await d.close();
    if (redis) {
      await dropQueues(redis.url, [queue]);
      await redis.stop();
    }
    rmSync(root, { recursive: true, force: true });
  });

  it('shows the workers, the children they train now and the queue depth, then who trained each child', async () => {
    const { held, trainer } = heldTrainer();
    worker = await startWorker({ redis: redis.url, queue, trainer, concurrency: 2, backend: 'cpu', name: 'dash-w1', heartbeatMs: 300, log: () => undefined });
    const runDir = join(root, 'live-run');
    // Three children in flight for two slots: two train, one waits.
    const search = searchCells({ runDir, strategy: 'random', children: 3, proxy: TINY_PROXY, seed: 7, executor: { kind: 'bullmq', redis: redis.url, queue, concurrency: 3 } });
    const dash = await startDashboard({ runs: [runDir], port: 0, assetsDir: assets, redis: redis.url, queue, allowMissing: true, pollMs: 200 });
    dashboards.push(dash);
    const queueNow = async () => (await (await fetch(`${dash.url}api/queue`)).json()) as QueueSnapshot;

    let q: QueueSnapshot | undefined;
    await waitFor(async () => {
      q = await queueNow();
      return held.length === 2 && q.workers[0]?.current.length === 2 && q.counts.waiting === 1;
    }, 'two children training and one waiting', 30_000);
    expect(q!.error).toBeUndefined();
    expect(q!.workers.map((w) => [w.name, w.concurrency, w.backend])).toEqual([['dash-w1', 2, 'cpu']]);
    expect(q!.workers[0].current.map((c) => c.runId)).toEqual(['live-run', 'live-run']);
    expect(q!.workers[0].current.map((c) => c.child).sort()).toEqual(held.map((h) => h.job.id).sort());
    expect(q!.byRun).toEqual({ 'live-run': { waiting: 1, active: 2 } });
    expect(q!.counts).toMatchObject({ waiting: 1, active: 2 });

    // Release children one by one until all three are done.
    while ((await (await fetch(`${dash.url}api/runs/live-run`)).json() as RunSummary).progress.done < 3) {
      held.shift()?.release();
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = await search;
    expect(r.history).toHaveLength(3);
    const rows = (await (await fetch(`${dash.url}api/runs/live-run/children`)).json()) as ChildRow[];
    expect(rows.map((x) => x.worker)).toEqual(['dash-w1', 'dash-w1', 'dash-w1']);
    const summary = (await (await fetch(`${dash.url}api/runs/live-run`)).json()) as RunSummary;
    expect([summary.state, summary.progress.done, summary.progress.total]).toEqual(['finished', 3, 3]);
    await waitFor(async () => (await queueNow()).workers[0]?.current.length === 0, 'the worker idle', 10_000);
  });

  it('reports a Redis it cannot reach instead of failing', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    await new Promise<void>((r) => blocker.close(() => r())); // nothing listens there now
    const run = writeRunFixture(join(root, 'offline'), { children: 1 });
    const dash = await startDashboard({ runs: [run.path], port: 0, assetsDir: assets, redis: `redis://127.0.0.1:${port}`, pollMs: 200 });
    dashboards.push(dash);
    let q: QueueSnapshot | undefined;
    await waitFor(async () => {
      q = (await (await fetch(`${dash.url}api/queue`)).json()) as QueueSnapshot;
      return q.error !== undefined;
    }, 'the error', 15_000);
    expect(q!.error).toMatch(new RegExp(`^cannot reach Redis at redis://127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\)$`));
    expect((await (await fetch(`${dash.url}api/runs`)).json() as RunSummary[]).map((s) => s.progress.done)).toEqual([1]);
  });

  describe.skipIf(needBrowser.skip)(needBrowser.label('on the page, in Chromium'), () => {
    const pageQueue = uniqueQueue('dash-page');
    let b: BrowserPage | undefined;
    let pageWorker: RunningWorker | undefined;
    afterAll(async () => {
      await b?.browser.close();
      await pageWorker?.close(true);
      if (redis) await dropQueues(redis.url, [pageQueue]);
    });

    it('shows the worker, the child it trains now and the queue depth, live', async () => {
      needBrowser.require();
      const pageAssets = bundlePage(join(root, 'page'));
      const { held, trainer } = heldTrainer();
      pageWorker = await startWorker({ redis: redis.url, queue: pageQueue, trainer, concurrency: 1, backend: 'cpu', name: 'dash-page-w', heartbeatMs: 300, log: () => undefined });
      const runDir = join(root, 'page-run');
      // Two children in flight for one slot: one trains, one waits.
      const search = searchCells({ runDir, strategy: 'random', children: 2, proxy: TINY_PROXY, seed: 3, executor: { kind: 'bullmq', redis: redis.url, queue: pageQueue, concurrency: 2 } });
      const dash = await startDashboard({ runs: [runDir], port: 0, assetsDir: pageAssets, redis: redis.url, queue: pageQueue, allowMissing: true, pollMs: 200 });
      dashboards.push(dash);
      b = await openPage();
      await b.page.goto(dash.url);
      const cells = () => b!.page.locator('section.queue tr[data-worker="dash-page-w"] td').allTextContents();
      await expect.poll(cells, { timeout: 30_000 }).toEqual(['dash-page-w', expect.any(String), 'cpu', '1 / 1', '0', '0', expect.stringMatching(/^page-run child [01] for \d+ s$/)]);
      expect(await b.page.locator('section.queue .queue-depth').textContent()).toMatch(/^1 waiting · 1 training · 0 delayed · 0 completed · 0 failed · page-run: 1 waiting, 1 training$/);
      await b.page.screenshot({ path: join(screenshotDir(root), 'queue.png'), fullPage: true });

      while ((await (await fetch(`${dash.url}api/runs/page-run`)).json() as RunSummary).progress.done < 2) {
        held.shift()?.release();
        await new Promise((r) => setTimeout(r, 100));
      }
      await search;
      await expect.poll(cells, { timeout: 10_000 }).toEqual(['dash-page-w', expect.any(String), 'cpu', '0 / 1', '2', '0', '–']);
      await expect.poll(() => b!.page.locator('.children-table tbody tr td:nth-child(8)').allTextContents()).toEqual(['dash-page-w', 'dash-page-w']);
      expect(b.problems).toEqual([]);
    });
  });
});
