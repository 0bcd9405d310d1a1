/**
 * Scale-out throughput of the BullMQ executor against the local one:
 * 1. children per hour with 1, 2 and 4 local `nasnet worker` processes (each training one child at
 *    a time) and with the local executor at the same concurrency, on the same tiny children;
 * 2. the queue's overhead per child: sequential children whose training takes no time, through
 *    Redis and one worker, against the same through the local executor's in-process path (ms/child).
 *
 * Usage: npx tsx bench/scale.ts [--trainer real|scripted] [--children 16] [--child-ms 500] [--workers 1,2,4] [--json]
 * 'real' trains tiny Fashion-MNIST children with the native engine; 'scripted' stands in a child
 * that sleeps --child-ms (for machines without the engine). Starts its own redis-server on loopback.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { genotypeHash } from '../lib/cells/genotype.js';
import { createStrategy } from '../lib/controller/create-strategy.js';
import { createBullmqExecutor } from '../lib/search/bullmq-executor.js';
import type { ChildExecutor } from '../lib/search/executor.js';
import { createLocalExecutor } from '../lib/search/local-executor.js';
import { PAPER_PROXY } from '../lib/search/search.js';
import type { ChildJob, ChildResult } from '../lib/search/types.js';
import { killWorker, spawnWorker, type WorkerMode, type WorkerProc } from '../test/helpers/bullmq-procs.js';
import { startRedisServer } from '../test/helpers/redis.js';
import { TINY_PROXY } from '../test/helpers/tiny-proxy.js';

interface Row {
  executor: 'local' | 'bullmq';
  workers: number;
  children: number;
  seconds: number;
  childrenPerHour: number;
  errors: number;
}

const { values: a } = parseArgs({
  options: {
    trainer: { type: 'string', default: 'real' },
    children: { type: 'string', default: '16' },
    'child-ms': { type: 'string', default: '500' },
    workers: { type: 'string', default: '1,2,4' },
    json: { type: 'boolean', default: false },
  },
});

let runCounter = 0;
/** n distinct tiny children of a fresh run id (so no result is reused from an earlier run). */
function makeJobs(n: number): ChildJob[] {
  const runId = `bench-${process.pid}-${runCounter++}`;
  const strategy = createStrategy('random', { seed: runCounter });
  return strategy.propose(n).map((p, i) => ({
    runId,
    id: p.id,
    genotype: p.genotype,
    hash: genotypeHash(p.genotype),
    seed: 1000 + i,
    dataset: 'fashion-mnist-mini',
    proxy: { ...PAPER_PROXY, ...TINY_PROXY },
  }));
}

/** Runs all jobs with at most `executor.concurrency` in flight; wall seconds and error count. */
async function drive(executor: ChildExecutor, jobs: ChildJob[], inflight: number): Promise<{ seconds: number; errors: number }> {
  const t0 = performance.now();
  let next = 0;
  let errors = 0;
  const lane = async () => {
    while (next < jobs.length) {
      const r = await executor.submit(jobs[next++]);
      if (r.error) errors++;
    }
  };
  await Promise.all(Array.from({ length: inflight }, lane));
  return { seconds: (performance.now() - t0) / 1000, errors };
}

function sleepTrainer(ms: number): (job: ChildJob) => Promise<ChildResult> {
  return async () => {
    await new Promise((r) => setTimeout(r, ms));
    return { accuracy: 0.5, curve: [0.5], params: 1, multAdds: 1, seconds: ms / 1000, diverged: false };
  };
}

/** An in-process executor around a trainer (the local executor's 'inline' path, any concurrency). */
function inline(trainer: (job: ChildJob) => Promise<ChildResult>, concurrency: number): ChildExecutor {
  return { concurrency, submit: trainer, close: async () => undefined };
}

async function main(): Promise<void> {
  const json = a.json;
  const mode = a.trainer as WorkerMode;
  const n = Number(a.children);
  const childMs = Number(a['child-ms']);
  const counts = a.workers.split(',').map(Number);
  const server = await startRedisServer();
  const rows: Row[] = [];
  const procs: WorkerProc[] = [];
  const log = () => undefined;
  try {
    for (const w of counts) {
      // Local executor, same concurrency.
      const local = mode === 'real' ? createLocalExecutor({ concurrency: w }) : inline(sleepTrainer(childMs), w);
      await drive(local, makeJobs(w), w); // warm-up: worker processes, data set
      const l = await drive(local, makeJobs(n), w);
      await local.close();
      rows.push({ executor: 'local', workers: w, children: n, seconds: l.seconds, childrenPerHour: (n / l.seconds) * 3600, errors: l.errors });

      // BullMQ: w worker processes on this machine.
      const queue = `bench-${w}-${process.pid}`;
      const threads = Math.max(1, Math.floor(availableParallelism() / w)); // the local executor's split
      for (let i = 0; i < w; i++) procs.push(spawnWorker({ mode, redis: server.url, queue, name: `b${w}-${i}`, childMs, threads }));
      const exec = createBullmqExecutor({ redis: server.url, queue, concurrency: w, log });
      await drive(exec, makeJobs(w), w); // warm-up: every worker up and loaded
      const b = await drive(exec, makeJobs(n), w);
      await exec.close();
      await Promise.all(procs.splice(0).map((p) => killWorker(p, 'SIGTERM')));
      rows.push({ executor: 'bullmq', workers: w, children: n, seconds: b.seconds, childrenPerHour: (n / b.seconds) * 3600, errors: b.errors });
    }

    // Queue overhead: zero-time children, one at a time.
    const m = 50;
    const queue = `bench-overhead-${process.pid}`;
    procs.push(spawnWorker({ mode: 'scripted', redis: server.url, queue, name: 'o', childMs: 0 }));
    const exec = createBullmqExecutor({ redis: server.url, queue, concurrency: 1, log });
    await drive(exec, makeJobs(3), 1);
    const q = await drive(exec, makeJobs(m), 1);
    await exec.close();
    await Promise.all(procs.splice(0).map((p) => killWorker(p, 'SIGTERM')));
    const base = await drive(inline(sleepTrainer(0), 1), makeJobs(m), 1);
    const overheadMs = ((q.seconds - base.seconds) / m) * 1000;

    if (json) {
      const out = { trainer: mode, childMs: mode === 'scripted' ? childMs : undefined, cores: availableParallelism(), rows, overheadMsPerChild: overheadMs };
      writeFileSync('bench-scale.json', `${JSON.stringify(out, null, 2)}\n`);
      process.stdout.write(`${JSON.stringify(out)}\n`);
    }
    process.stdout.write(`trainer ${mode}${mode === 'scripted' ? ` (${childMs} ms children)` : ' (tiny Fashion-MNIST children)'}, ${availableParallelism()} cores\n`);
    process.stdout.write('executor  workers  children  seconds  children/hour  errors\n');
    for (const r of rows) {
      process.stdout.write(
        `${r.executor.padEnd(8)}  ${String(r.workers).padStart(7)}  ${String(r.children).padStart(8)}  ${r.seconds.toFixed(2).padStart(7)}  ${r.childrenPerHour.toFixed(0).padStart(13)}  ${String(r.errors).padStart(6)}\n`,
      );
    }
    process.stdout.write(`queue overhead per child (Redis round trip, 1 worker, sequential): ${overheadMs.toFixed(1)} ms\n`);
  } finally {
    await Promise.all(procs.map((p) => killWorker(p)));
    await server.stop();
  }
}

await main();
