/**
 * Distributed search end to end: worker processes (`nasnet worker`, spawned from the TypeScript
 * sources), a real Redis, and the failures the issue names: a worker killed mid-child, the
 * controller killed and resumed, Redis restarted under waiting workers.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBullmqExecutor } from '../lib/search/bullmq-executor.js';
import { RunDir } from '../lib/search/run-dir.js';
import { searchCells } from '../lib/search/search.js';
import { listWorkers } from '../lib/search/status.js';
import type { HistoryEntry } from '../lib/search/types.js';
import { doneJobs, killWorker, spawnWorker, startedJobs, type WorkerMode, type WorkerProc, waitFor } from './helpers/bullmq-procs.js';
import { expectValidLedger } from './helpers/halving-ledger.js';
import { needRedis, needRedisServer } from './helpers/optional.js';
import { dropQueues, type RedisServer, startRedisServer, testRedis, uniqueQueue } from './helpers/redis.js';
import { TINY_PROXY } from './helpers/tiny-proxy.js';

/**
 * The workers' trainer: 'real' (the native engine through `nasnet worker`) or 'scripted' (a timed
 * stand-in, for machines where the engine is not built). NASNET_TEST_WORKER_MODE overrides.
 */
const MODE: WorkerMode = (process.env.NASNET_TEST_WORKER_MODE as WorkerMode | undefined) ?? 'real';
/** Scripted children take this long: long enough to kill a worker in the middle of one. */
const CHILD_MS = 600;

let redis: { url: string; stop(): Promise<void> };
const workers: WorkerProc[] = [];
const queues: string[] = [];
const root = mkdtempSync(join(tmpdir(), 'nasnet-bullmq-e2e-'));
const need = needRedis();
const needServer = needRedisServer();

beforeAll(async () => {
  if (need.skip) return;
  need.require();
  redis = await testRedis();
});

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => killWorker(w)));
});

afterAll(async () => {
  if (!redis) return;
  await dropQueues(redis.url, queues);
  await redis.stop();
});

function worker(url: string, queue: string, name: string, extra: { dieOnChild?: number; maxStalled?: number; mode?: WorkerMode; childMs?: number } = {}): WorkerProc {
  const w = spawnWorker({ mode: MODE, redis: url, queue, name, childMs: CHILD_MS, threads: 1, ...extra });
  workers.push(w);
  return w;
}

async function waitForWorkers(url: string, queue: string, n: number): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: null });
  try {
    await waitFor(async () => (await listWorkers(client, queue)).length >= n, `${n} workers on ${queue}`, 60_000);
  } finally {
    client.disconnect();
  }
}

/** Every trained child of the history was done by exactly one worker, once. */
function expectEachChildOnce(history: HistoryEntry[], procs: WorkerProc[]) {
  const done = procs.flatMap(doneJobs);
  const counts = new Map<string, number>();
  for (const id of done) counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const [id, n] of counts) expect(n, `job ${id} trained ${n} times`).toBe(1);
  const trained = history.filter((h) => h.duplicateOf === undefined && h.rejected === undefined && !h.error);
  expect(done.length).toBe(trained.length);
}

describe.skipIf(need.skip)(need.label(`distributed search over BullMQ (${MODE} trainer)`), () => {
  it('two worker processes evaluate every child exactly once', async () => {
    const queue = uniqueQueue('two');
    queues.push(queue);
    const ws = [worker(redis.url, queue, 'w1'), worker(redis.url, queue, 'w2')];
    await waitForWorkers(redis.url, queue, 2);
    const r = await searchCells({ runDir: join(root, 'two'), strategy: 'random', children: 8, proxy: TINY_PROXY, executor: { kind: 'bullmq', redis: redis.url, queue }, seed: 1 });
    expect(r.history).toHaveLength(8);
    expect(new Set(r.history.map((h) => h.id)).size).toBe(8);
    for (const h of r.history) expect(h.error).toBeUndefined();
    expectEachChildOnce(r.history, ws);
  });

  it('retries the child of a worker killed with SIGKILL on another worker, and completes', async () => {
    const queue = uniqueQueue('kill');
    queues.push(queue);
    const a = worker(redis.url, queue, 'victim');
    const b = worker(redis.url, queue, 'survivor');
    await waitForWorkers(redis.url, queue, 2);
    const search = searchCells({ runDir: join(root, 'kill'), strategy: 'random', children: 6, proxy: TINY_PROXY, executor: { kind: 'bullmq', redis: redis.url, queue }, seed: 2 });
    await waitFor(() => startedJobs(a).length > 0, 'the victim to start a child', 60_000);
    const lost = startedJobs(a).at(-1)!;
    await killWorker(a);
    expect(doneJobs(a)).not.toContain(lost);
    const r = await search;
    expect(r.history).toHaveLength(6);
    for (const h of r.history) expect(h.error).toBeUndefined();
    expect(doneJobs(b)).toContain(lost);
    const q = new Queue(queue, { connection: { url: redis.url } });
    const job = (await q.getJob(lost))!;
    expect(job.stalledCounter).toBe(1);
    expect(await job.getState()).toBe('completed');
    await q.close();
  });

  it('records a child whose worker dies on every try as failed with the reason, and completes', async () => {
    const queue = uniqueQueue('poison');
    queues.push(queue);
    const live: WorkerProc[] = [];
    let n = 0;
    let stop = false;
    // Keep two workers alive: each one that takes child 1 dies.
    const spawnOne = () => {
      // Always scripted: the trainer kills its own worker on child 1.
      const w = worker(redis.url, queue, `p${n++}`, { dieOnChild: 1, maxStalled: 1, mode: 'scripted' });
      live.push(w);
      void w.exited.then(() => {
        if (!stop) spawnOne();
      });
    };
    spawnOne();
    spawnOne();
    await waitForWorkers(redis.url, queue, 2);
    const r = await searchCells({ runDir: join(root, 'poison'), strategy: 'random', children: 4, proxy: TINY_PROXY, executor: { kind: 'bullmq', redis: redis.url, queue }, seed: 3 });
    stop = true;
    expect(r.history).toHaveLength(4);
    const poisoned = r.history.find((h) => h.id === 1)!;
    expect(poisoned.error).toMatch(/^job \S+ failed after \d+ attempt\(s\): its worker died or stalled on every try \(2 stalls; BullMQ: job stalled more than allowable limit\)$/);
    expect(poisoned.reward).toBe(0);
    for (const h of r.history.filter((x) => x.id !== 1)) expect(h.error).toBeUndefined();
    expect(live.length).toBeGreaterThanOrEqual(4); // two died on it, two replaced them
  });

  it('a controller killed with SIGKILL and resumed ends with exactly the requested children, none trained twice', async () => {
    const queue = uniqueQueue('ctl');
    queues.push(queue);
    const ws = [worker(redis.url, queue, 'c1'), worker(redis.url, queue, 'c2')];
    await waitForWorkers(redis.url, queue, 2);
    const runDir = join(root, 'ctl');
    const children = 8;
    const ctl = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/bullmq-search.ts', runDir, String(children), redis.url, queue], { stdio: 'ignore' });
    const run = new RunDir(runDir);
    await waitFor(() => existsSync(run.file('history.jsonl')) && run.history().length >= 2, 'two finished children', 60_000);
    ctl.kill('SIGKILL');
    await new Promise((r) => ctl.once('exit', r));
    const before = run.history().length;
    expect(before).toBeLessThan(children);
    // Children in flight finish while the controller is down.
    await new Promise((r) => setTimeout(r, CHILD_MS * 2));
    const r = await searchCells({ runDir, resume: true, executor: { kind: 'bullmq', redis: redis.url, queue } });
    expect(r.history).toHaveLength(children);
    expect(run.history()).toHaveLength(children);
    expect(new Set(r.history.map((h) => h.id)).size).toBe(children);
    for (const h of r.history) expect(h.error).toBeUndefined();
    expectEachChildOnce(r.history, ws);
  });
});

describe.skipIf(need.skip)(need.label(`successive halving over BullMQ (${MODE} trainer)`), () => {
  it('a controller killed with SIGKILL and resumed: every rung of every child trained once, by the rule, exactly the requested children', async () => {
    const queue = uniqueQueue('halving');
    queues.push(queue);
    const ws = [worker(redis.url, queue, 'h1'), worker(redis.url, queue, 'h2')];
    await waitForWorkers(redis.url, queue, 2);
    const runDir = join(root, 'halving');
    const children = 8;
    const ctl = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/bullmq-search.ts', runDir, String(children), redis.url, queue, 'new', 'halving'], { stdio: 'ignore' });
    const run = new RunDir(runDir);
    await waitFor(() => existsSync(run.file('rungs.jsonl')) && run.readLines('rungs.jsonl').length >= 3, 'three finished rungs', 60_000);
    ctl.kill('SIGKILL');
    await new Promise((r) => ctl.once('exit', r));
    expect(run.history().length).toBeLessThan(children);
    await new Promise((r) => setTimeout(r, CHILD_MS * 2)); // rungs in flight finish while the controller is down
    const r = await searchCells({ runDir, resume: true, executor: { kind: 'bullmq', redis: redis.url, queue } });
    expect(r.history).toHaveLength(children);
    expect(new Set(r.history.map((h) => h.id)).size).toBe(children);
    for (const h of r.history) expect(h.error).toBeUndefined();
    const ledger = expectValidLedger(runDir, 2, 3);
    // Each rung is its own job (the budget is part of the job id), trained by exactly one worker, once.
    const done = ws.flatMap(doneJobs);
    expect(new Set(done).size).toBe(done.length);
    expect(done.length).toBe(ledger.length);
  });
});

describe.skipIf(needServer.skip)(needServer.label('Redis restarted while workers wait'), () => {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    needServer.require();
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('workers reconnect and the search completes', async () => {
    const queue = uniqueQueue('restart');
    const ws = [worker(server!.url, queue, 'r1'), worker(server!.url, queue, 'r2')];
    await waitForWorkers(server!.url, queue, 2);
    await server!.restart(); // empty: no persistence
    await waitFor(() => ws.every((w) => w.lines.some((l) => l.includes('lost Redis'))), 'the workers to notice', 30_000);
    await waitForWorkers(server!.url, queue, 2); // heartbeats again: reconnected
    expect(ws.every((w) => w.lines.some((l) => l.includes('reconnected to Redis')))).toBe(true);
    const r = await searchCells({ runDir: join(root, 'restart'), strategy: 'random', children: 4, proxy: TINY_PROXY, executor: { kind: 'bullmq', redis: server!.url, queue }, seed: 4 });
    expect(r.history).toHaveLength(4);
    for (const h of r.history) expect(h.error).toBeUndefined();
    expectEachChildOnce(r.history, ws);
  });

  it('restarted mid-search (its jobs lost): the controller queues the lost children again and the search completes', async () => {
    const queue = uniqueQueue('midrestart');
    // The workers' children take different times, so when the first child ends (and Redis goes down)
    // the other worker is surely still training one: with equal times both could end together and
    // no job would be in flight to lose (CI saw that once).
    const ws = [worker(server!.url, queue, 'm1'), worker(server!.url, queue, 'm2', { childMs: CHILD_MS * 4 })];
    await waitForWorkers(server!.url, queue, 2);
    let restarted: Promise<void> | undefined;
    const notices: string[] = [];
    const executor = createBullmqExecutor({ redis: server!.url, queue, concurrency: 2, pollMs: 300, log: (l) => notices.push(l) });
    const r = await searchCells({
      runDir: join(root, 'midrestart'),
      strategy: 'random',
      children: 6,
      proxy: TINY_PROXY,
      executor: { kind: 'custom', executor },
      seed: 6,
      onChild: () => {
        restarted ??= server!.restart();
      },
    });
    await restarted;
    expect(r.history).toHaveLength(6);
    for (const h of r.history) expect(h.error).toBeUndefined();
    expect(ws.some((w) => w.lines.some((l) => l.includes('reconnected to Redis')))).toBe(true);
    expect(notices.some((l) => /^nasnet: lost Redis at redis:\/\/127\.0\.0\.1:\d+/.test(l))).toBe(true);
    expect(notices.some((l) => /^nasnet: child \d+ \(job \S+\) is gone from Redis \(restarted without persistence\?\); queued again$/.test(l))).toBe(true);
  });
});
