/**
 * Fault class "workers obey SIGTERM within a child's step" (issue 16, bounded work): `nasnet worker`
 * on SIGTERM stops the child it trains at once (its training process is killed in the middle of a
 * step, not after the child), gives the job back to the queue (waiting, not failed, not a stall) and
 * exits; another worker then trains that child, once, and the search ends with every child exactly
 * once. `nasnet search` (standalone) on SIGTERM exits at once with its training processes, and
 * `--resume` ends with exactly the requested children.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RunDir } from '../lib/search/run-dir.js';
import { searchCells } from '../lib/search/search.js';
import { listWorkers } from '../lib/search/status.js';
import { doneJobs, killWorker, spawnWorker, startedJobs, type WorkerProc, waitFor } from './helpers/bullmq-procs.js';
import { needRedis } from './helpers/optional.js';
import { dropQueues, testRedis, uniqueQueue } from './helpers/redis.js';
import { TINY_PROXY } from './helpers/tiny-proxy.js';

/**
 * A child of many steps (each a few ms): SIGTERM lands in its middle, long before its end. Five
 * epochs (~5-10 s a child here), so a child is still training 1.5 s after its process starts.
 */
const LONG_PROXY = { ...TINY_PROXY, epochs: 5, maxBatchesPerEpoch: 120 };
const root = mkdtempSync(join(tmpdir(), 'nasnet-sigterm-'));
const need = needRedis();
let redis: { url: string; stop(): Promise<void> };
const workers: WorkerProc[] = [];
const queues: string[] = [];

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

/** Pids of the processes whose parent is `pid` (the local executor's training processes), from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
/** Whether `pid` still runs (a zombie, killed but not yet reaped, does not). */
const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
};
/** Sends `signal` and returns the seconds until the process exited. */
async function secondsToExit(proc: ChildProcess, signal: NodeJS.Signals): Promise<number> {
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const t0 = performance.now();
  proc.kill(signal);
  await exited;
  return (performance.now() - t0) / 1000;
}

describe.skipIf(need.skip)(need.label('nasnet worker on SIGTERM'), () => {
  it('stops its child within a step, gives the job back, exits; another worker trains it once', async () => {
    const queue = uniqueQueue('sigterm');
    queues.push(queue);
    const a = spawnWorker({ mode: 'real', redis: redis.url, queue, name: 'leaver', threads: 1 });
    workers.push(a);
    const client = new Redis(redis.url, { maxRetriesPerRequest: null });
    try {
      await waitFor(async () => (await listWorkers(client, queue)).length >= 1, 'the worker', 60_000);
    } finally {
      client.disconnect();
    }
    const search = searchCells({ runDir: join(root, 'worker'), strategy: 'random', children: 2, proxy: LONG_PROXY, executor: { kind: 'bullmq', redis: redis.url, queue }, seed: 7 });
    await waitFor(() => startedJobs(a).length > 0, 'the leaver to start a child', 60_000);
    const job = startedJobs(a)[0]!;
    // The worker says it started the child before its training process is forked: wait for the process.
    await waitFor(() => childrenOf(a.proc.pid!).length > 0, "the leaver's training process", 10_000);
    const training = childrenOf(a.proc.pid!);
    await new Promise((r) => setTimeout(r, 1500)); // in the middle of the child's steps
    const exitSeconds = await secondsToExit(a.proc, 'SIGTERM');
    expect(a.lines.join('\n')).toMatch(/SIGTERM, giving 1 child in progress back to the queue/);
    expect(a.lines.some((l) => l.includes(`gave back ${job} child`))).toBe(true);
    expect(doneJobs(a)).toEqual([]);
    await waitFor(() => training.every((pid) => !alive(pid)), 'the training process to stop', 2000);
    // Back to waiting: not failed, not a stall, nothing recorded.
    const q = new Queue(queue, { connection: { url: redis.url } });
    const given = (await q.getJob(job))!;
    expect(await given.getState()).toBe('waiting');
    expect(given.stalledCounter).toBe(0);
    expect(given.failedReason).toBeFalsy();
    // Another worker trains it, once; the search ends with both children.
    const b = spawnWorker({ mode: 'real', redis: redis.url, queue, name: 'stayer', threads: 1 });
    workers.push(b);
    const r = await search;
    expect(r.history).toHaveLength(2);
    for (const h of r.history) expect(h.error).toBeUndefined();
    expect(doneJobs(b)).toContain(job);
    expect(doneJobs(b).filter((j) => j === job)).toHaveLength(1);
    expect(await (await q.getJob(job))!.getState()).toBe('completed');
    await q.close();
    // Prompt: the leaver was gone well before the child it left could have ended.
    const childSeconds = Math.min(...r.history.map((h) => h.seconds));
    process.stderr.write(`nasnet worker: exit ${exitSeconds.toFixed(2)} s after SIGTERM; a child takes ${childSeconds.toFixed(1)} s\n`);
    expect(exitSeconds).toBeLessThan(Math.max(3, childSeconds / 2));
  }, 180_000);
});

describe('nasnet search on SIGTERM', () => {
  it('exits at once with its training processes; --resume ends with exactly the requested children', async () => {
    const runDir = join(root, 'search');
    // Children of LONG_PROXY's length, so the second is still training when the signal comes; at
    // one epoch a child took 0.9-1.7 s and could end before the poll below found its process.
    const long = ['--epochs', String(LONG_PROXY.epochs), '--max-batches', String(LONG_PROXY.maxBatchesPerEpoch)];
    const args = ['search', '--run', runDir, '--strategy', 'random', '--children', '2', '--blocks', '2', '--filters', '4', '--batch', '16', ...long, '--max-validation', '64'];
    const proc = spawn(process.execPath, [join('bin', 'nasnet.js'), ...args], { stdio: 'ignore', env: { ...process.env, OMP_NUM_THREADS: '1' } });
    const run = new RunDir(runDir);
    await waitFor(() => existsSync(run.file('history.jsonl')) && run.history().length >= 1, 'a finished child', 120_000);
    await new Promise((r) => setTimeout(r, 1000)); // the next child is training
    await waitFor(() => childrenOf(proc.pid!).length > 0, 'the training process of the next child', 10_000);
    const training = childrenOf(proc.pid!);
    const before = run.history();
    expect(await secondsToExit(proc, 'SIGTERM')).toBeLessThan(3);
    await waitFor(() => training.every((pid) => !alive(pid)), 'the training processes to stop', 3000);
    const r = await searchCells({ runDir, resume: true });
    expect(r.history).toHaveLength(2);
    expect(new Set(r.history.map((h) => h.id)).size).toBe(2);
    expect(r.history.slice(0, before.length)).toEqual(before);
  }, 180_000);
});
