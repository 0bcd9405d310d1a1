/**
 * The BullMQ executor, worker, payload schema and status against a real Redis (NASNET_TEST_REDIS in
 * CI, else a redis-server started here). Workers run in this process with a scripted trainer; the
 * multi-process scenarios are in bullmq-e2e.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../lib/backends.js';
import { genotypeHash } from '../lib/cells/genotype.js';
import { NASNET_A } from '../lib/cells/genotypes.js';
import { createStrategy } from '../lib/controller/create-strategy.js';
import { createBullmqExecutor } from '../lib/search/bullmq-executor.js';
import type { ChildExecutor } from '../lib/search/executor.js';
import { childJobId, encodeJobPayload, JOB_PAYLOAD_VERSION, parseChildResult, parseJobPayload } from '../lib/search/job-schema.js';
import { PAPER_PROXY, searchCells } from '../lib/search/search.js';
import { formatStatus, queueStatus } from '../lib/search/status.js';
import type { ChildJob, ChildResult } from '../lib/search/types.js';
import { type RunningWorker, startWorker } from '../lib/search/worker.js';
import { waitFor } from './helpers/bullmq-procs.js';
import { needRedis } from './helpers/optional.js';
import { dropQueues, testRedis, uniqueQueue } from './helpers/redis.js';
import { TINY_PROXY } from './helpers/tiny-proxy.js';

let redis: { url: string; stop(): Promise<void> };
const queues: string[] = [];
const root = mkdtempSync(join(tmpdir(), 'nasnet-bullmq-'));
const need = needRedis();

beforeAll(async () => {
  if (need.skip) return;
  need.require();
  redis = await testRedis();
});

afterAll(async () => {
  if (!redis) return;
  await dropQueues(redis.url, queues);
  await redis.stop();
});

function newQueue(label: string): string {
  const q = uniqueQueue(label);
  queues.push(q);
  return q;
}

const job = (over: Partial<ChildJob> = {}): ChildJob => ({
  runId: 'run-1',
  id: 0,
  genotype: NASNET_A,
  hash: genotypeHash(NASNET_A),
  seed: 5,
  dataset: 'fashion-mnist-mini',
  proxy: { ...PAPER_PROXY, ...TINY_PROXY },
  ...over,
});

/** A scripted trainer that counts what it trained. */
function counting(ms = 20) {
  const trained: ChildJob[] = [];
  const trainer = async (j: ChildJob): Promise<ChildResult> => {
    trained.push(j);
    await new Promise((r) => setTimeout(r, ms));
    const accuracy = (j.seed % 97) / 100;
    return { accuracy, curve: [accuracy], params: 10 + j.id, multAdds: 100, seconds: ms / 1000, diverged: false };
  };
  return { trained, trainer };
}

const quiet = () => undefined;

describe('job payload schema', () => {
  it('derives job ids from the run, hash, seed and proxy, without the ":" BullMQ refuses', () => {
    const id = childJobId(job());
    expect(id).toMatch(/^run-1\.[0-9a-f]{16}\.5\.[0-9a-f]{8}$/);
    expect(childJobId(job({ id: 7 }))).toBe(id); // the proposal id is not part of the child's identity
    expect(childJobId(job({ seed: 6 }))).not.toBe(id);
    expect(childJobId(job({ runId: 'run-2' }))).not.toBe(id);
    expect(childJobId(job({ proxy: { ...job().proxy, epochs: 2 } }))).not.toBe(id);
    expect(childJobId(job({ runId: 'a:b/c d' }))).toMatch(/^a_b_c_d\./);
  });

  it('round-trips a valid job and names the field of a malformed one', () => {
    expect(parseJobPayload(JSON.parse(JSON.stringify(encodeJobPayload(job()))))).toEqual(job());
    expect(() => encodeJobPayload(job({ proxy: { ...job().proxy, batchSize: 0 } }))).toThrow(
      'child job payload: expected positive integer for proxy.batchSize but received 0 of type number',
    );
    expect(() => encodeJobPayload(job({ proxy: { ...job().proxy, lr: Number.NaN } }))).toThrow(
      'child job payload: expected finite number > 0 for proxy.lr but received NaN of type number',
    );
    expect(() => parseJobPayload({ v: JOB_PAYLOAD_VERSION, job: { ...job(), seed: -1 } })).toThrow(
      'child job payload: expected non-negative integer for seed but received -1 of type number',
    );
    expect(() => parseJobPayload({ v: 2, job: job() })).toThrow(
      'child job payload: expected payload version 1 for v but received 2 of type number (controller and worker run different nasnet versions)',
    );
    expect(() => parseJobPayload('hello')).toThrow('child job payload: expected object for payload but received "hello" of type string');
    const badGenotype = { ...NASNET_A, normal: { blocks: [{ inputs: [0, 9], ops: ['identity', 'conv_3x3'], combine: 'add' }] } };
    expect(() => parseJobPayload({ v: 1, job: { ...job(), genotype: badGenotype } })).toThrow(/child job payload: genotype: normal block 0: inputs\[1\] = 9/);
    expect(() => parseJobPayload({ v: 1, job: { ...job(), hash: 'f'.repeat(64) } })).toThrow(
      /^child job payload: expected the genotype's own hash \([0-9a-f]{12}…\) for hash but received f{12}…$/,
    );
    expect(() => parseJobPayload({ v: 1, job: { ...job(), extra: 1 } })).toThrow("child job payload: unknown key 'extra' in job (known: runId, id, genotype, hash, seed, dataset, dataDir, proxy)");
  });

  it('checks results', () => {
    const ok = { accuracy: 0.5, curve: [0.5], params: 1, multAdds: 2, seconds: 0.1, diverged: false };
    expect(parseChildResult(ok, 'j')).toEqual(ok);
    expect(() => parseChildResult({ ...ok, accuracy: 3 }, 'j1')).toThrow('result of job j1: expected finite number in [0, 1] for accuracy but received 3 of type number');
    expect(() => parseChildResult(null, 'j2')).toThrow('result of job j2: expected object for result but received null');
    // A diverged epoch: NaN becomes null in JSON and NaN again on arrival.
    const diverged = JSON.parse(JSON.stringify({ ...ok, accuracy: 0, curve: [0.1, Number.NaN], diverged: true }));
    expect(diverged.curve).toEqual([0.1, null]);
    expect(parseChildResult(diverged, 'j3').curve).toEqual([0.1, Number.NaN]);
    expect(() => parseChildResult({ ...ok, curve: ['x'] }, 'j4')).toThrow('result of job j4: expected finite number for curve[0] but received "x" of type string');
  });
});

describe.skipIf(need.skip)(need.label('BullMQ executor and worker'), () => {
  let worker: RunningWorker | undefined;
  afterAll(async () => {
    await worker?.close();
  });

  it('trains each child once, attaches a second submission to the same job, and serves a restarted controller from Redis', async () => {
    const queue = newQueue('exec');
    const { trained, trainer } = counting(50);
    worker = await startWorker({ redis: redis.url, queue, trainer, backend: 'cpu', log: quiet, heartbeatMs: 200 });
    const exec = createBullmqExecutor({ redis: redis.url, queue, pollMs: 200, log: quiet });
    await waitFor(() => exec.concurrency === 1 && exec.progressInfo() !== '', 'the worker heartbeat');
    expect(exec.progressInfo()).toBe('1 worker, 0 queued, 0 training');
    const a = job({ id: 0, seed: 11 });
    const b = job({ id: 1, seed: 12 });
    const [ra, ra2, rb] = await Promise.all([exec.submit(a), exec.submit({ ...a, id: 5 }), exec.submit(b)]);
    expect(ra).toEqual(ra2);
    expect(ra.accuracy).toBe(0.11);
    expect(rb.accuracy).toBe(0.12);
    expect(trained.map((j) => j.seed).sort()).toEqual([11, 12]);
    await exec.close();

    // A new controller (a resumed search) collects the finished child without training it again.
    const exec2 = createBullmqExecutor({ redis: redis.url, queue, pollMs: 200, log: quiet });
    expect(await exec2.submit(a)).toEqual(ra);
    expect(trained).toHaveLength(2);
    await exec2.close();
  });

  it('refuses a malformed job at the controller without queueing it', async () => {
    const queue = newQueue('badctl');
    const exec = createBullmqExecutor({ redis: redis.url, queue, concurrency: 1, log: quiet });
    const r = await exec.submit(job({ proxy: { ...job().proxy, batchSize: 0 } }));
    expect(r.error).toBe('child job payload: expected positive integer for proxy.batchSize but received 0 of type number');
    expect(r.accuracy).toBe(0);
    const q = new Queue(queue, { connection: { url: redis.url } });
    expect(await q.count()).toBe(0);
    await q.close();
    await exec.close();
  });

  it('fails a malformed job on the worker with its reason and keeps working', async () => {
    const queue = newQueue('badwrk');
    const { trained, trainer } = counting();
    const lines: string[] = [];
    const w = await startWorker({ redis: redis.url, queue, trainer, backend: 'cpu', log: (l) => lines.push(l) });
    const q = new Queue(queue, { connection: { url: redis.url } });
    const bad = await q.add('child', { v: 1, job: { ...job(), genotype: { normal: 'x' } } }, { jobId: 'run-x.bad.1', attempts: 3 });
    await waitFor(async () => (await bad.getState()) === 'failed', 'the bad job to fail');
    const failed = (await q.getJob('run-x.bad.1'))!;
    expect(failed.failedReason).toMatch(/^child job payload: genotype: .*\(refused by worker /);
    expect(failed.attemptsMade).toBe(1); // not retried: it cannot get better
    expect(lines.some((l) => l.includes('refused job run-x.bad.1'))).toBe(true);
    // The controller attaching to such a job records the reason.
    const exec = createBullmqExecutor({ redis: redis.url, queue, pollMs: 200, log: quiet });
    const good = await exec.submit(job({ seed: 3 }));
    expect(good.error).toBeUndefined();
    expect(trained).toHaveLength(1);
    expect(w.stats()).toEqual({ active: 0, done: 1, failed: 1 });
    await exec.close();
    await q.close();
    await w.close();
  });

  it('says which data set a worker cannot find, and the search records it', async () => {
    const queue = newQueue('nodata');
    const { trained, trainer } = counting();
    const empty = mkdtempSync(join(tmpdir(), 'nasnet-empty-'));
    const w = await startWorker({ redis: redis.url, queue, trainer, backend: 'cpu', dataDir: empty, log: quiet });
    const exec = createBullmqExecutor({ redis: redis.url, queue, pollMs: 200, attempts: 1, log: quiet });
    const r = await exec.submit(job({ dataset: 'mnist' }));
    expect(r.error).toMatch(/failed after 1 attempt\(s\): worker .* cannot load data set 'mnist' \(.*nasnet-empty-/);
    expect(r.error).toContain('start the worker with --data DIR');
    expect(trained).toHaveLength(0);
    await exec.close();
    await w.close();
    await expect(startWorker({ redis: redis.url, queue, dataDir: join(empty, 'nope'), log: quiet })).rejects.toThrow(/^--data: folder .*nope does not exist/);
  });

  it('trains on CUDA only where a device is present, and says why not', async () => {
    const queue = newQueue('backend');
    if (backends().available.includes('cuda')) {
      const w = await startWorker({ redis: redis.url, queue, backend: 'cuda', trainer: counting().trainer, log: quiet });
      expect(w.backend).toBe('cuda');
      await w.close();
    } else {
      await expect(startWorker({ redis: redis.url, queue, backend: 'cuda', log: quiet })).rejects.toThrow(/^--backend cuda: no CUDA device on \S+ \(.+\); use --backend cpu or auto$/);
      const notices: string[] = [];
      const w = await startWorker({ redis: redis.url, queue, backend: 'auto', trainer: counting().trainer, log: (l) => notices.push(l) });
      expect(w.backend).toBe('cpu');
      expect(notices[0]).toMatch(/^nasnet worker: no CUDA device on \S+ \(.+\); training on the CPU$/);
      await w.close();
    }
  });

  it('says when no worker serves the queue, and gives up after noWorkerTimeoutMs instead of waiting silently', async () => {
    const queue = newQueue('noworker');
    const lines: string[] = [];
    const exec = createBullmqExecutor({ redis: redis.url, queue, concurrency: 1, pollMs: 100, noWorkerNoticeMs: 300, noWorkerTimeoutMs: 1500, log: (l) => lines.push(l) });
    const t0 = Date.now();
    await expect(exec.submit(job({ seed: 77 }))).rejects.toThrow(
      new RegExp(`^1 child queued on '${queue}' at redis://.*, and no worker serves that queue for \\d+ s \\(noWorkerTimeoutMs 1500\\): giving up\\. The children stay queued; start \`nasnet worker --redis .* --queue ${queue}\` and resume`),
    );
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(lines.some((l) => l.startsWith(`nasnet: 1 child queued on '${queue}'`) && l.includes('no worker serves that queue (waiting'))).toBe(true);
    await exec.close();
    const q = new Queue(queue, { connection: { url: redis.url } });
    expect(await q.count()).toBe(1); // still queued, for a resumed search
    await q.close();
  });

  it('fails clearly when Redis cannot be reached', async () => {
    const exec = createBullmqExecutor({ redis: 'redis://127.0.0.1:1', concurrency: 1, connectTimeoutMs: 500, log: quiet });
    await expect(exec.submit(job())).rejects.toThrow(/^cannot reach Redis at redis:\/\/127\.0\.0\.1:1 within 1 s \(.*ECONNREFUSED.*\); is redis-server running there\?/);
    await exec.close();
    expect(() => createBullmqExecutor({ redis: 'http://x' })).toThrow('Expected a URL like redis://host:6379 for redis but received "http://x" of type string');
  });

  it('runs searchCells through the queue, records a malformed child and goes on, and reports status', async () => {
    const queue = newQueue('search');
    const { trained, trainer } = counting(30);
    const w = await startWorker({ redis: redis.url, queue, trainer, backend: 'cpu', concurrency: 2, log: quiet, heartbeatMs: 200, name: 'w-search' });
    const inner = createBullmqExecutor({ redis: redis.url, queue, concurrency: 2, pollMs: 200, log: quiet });
    // Child 3's payload is corrupted on its way to the queue.
    const corrupting: ChildExecutor = {
      concurrency: inner.concurrency,
      submit: (j) => inner.submit(j.id === 3 ? { ...j, proxy: { ...j.proxy, filters: -4 } } : j),
      close: () => inner.close(),
    };
    const runDir = join(root, 'search-run');
    const r = await searchCells({ runDir, strategy: 'random', children: 6, proxy: TINY_PROXY, executor: { kind: 'custom', executor: corrupting }, seed: 2 });
    expect(r.history).toHaveLength(6);
    const bad = r.history.find((h) => h.id === 3)!;
    expect(bad.error).toBe('child job payload: expected positive integer for proxy.filters but received -4 of type number');
    expect(bad.reward).toBe(0);
    const good = r.history.filter((h) => h.id !== 3 && h.duplicateOf === undefined);
    for (const h of good) expect(h.error).toBeUndefined();
    expect(trained).toHaveLength(good.length);
    expect(new Set(trained.map((j) => j.id)).size).toBe(good.length);

    const s = await queueStatus({ redis: redis.url, queue, runId: runDir });
    expect(s.workers.map((x) => [x.name, x.concurrency, x.backend])).toEqual([['w-search', 2, 'cpu']]);
    expect(s.run!.id).toBe('search-run');
    expect(s.run!.counts.completed).toBe(good.length);
    expect(s.counts.completed).toBe(good.length);
    expect(s.run!.childrenPerHour).toBeGreaterThan(0);
    const text = formatStatus(s);
    expect(text).toContain(`queue ${queue}: 0 waiting, 0 active, 0 delayed, ${good.length} completed, 0 failed`);
    expect(text).toMatch(/workers: 1 \(2 slots\)\n {2}w-search {2}cpu {2}\d\/2 busy {2}\d+ done/);
    expect(text).toMatch(/run search-run: .* children\/hour/);
    await w.close();
    expect((await queueStatus({ redis: redis.url, queue })).workers).toEqual([]);
  });

  it('is what searchCells builds for executor kind bullmq', async () => {
    const queue = newQueue('spec');
    const { trained, trainer } = counting(10);
    const w = await startWorker({ redis: redis.url, queue, trainer, backend: 'cpu', log: quiet });
    const strategy = createStrategy('random', { seed: 3 });
    const r = await searchCells({ runDir: join(root, 'spec-run'), strategy, children: 3, proxy: TINY_PROXY, executor: { kind: 'bullmq', redis: redis.url, queue } });
    expect(r.history).toHaveLength(3);
    expect(trained.length).toBe(r.history.filter((h) => h.duplicateOf === undefined).length);
    await w.close();
  });
});

describe.skipIf(need.skip)(need.label('nasnet worker / status / search --redis (CLI)'), () => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', "import { main } from './lib/cli/main.ts'; await main(['node', 'nasnet', ...process.argv.slice(1)]);", ...args], {
      encoding: 'utf8',
      timeout: 60_000,
    });

  it('prints the status of a queue and a run', async () => {
    const queue = newQueue('cli');
    const w = await startWorker({ redis: redis.url, queue, trainer: counting().trainer, backend: 'cpu', name: 'cli-w', log: quiet });
    const r = cli('status', '--redis', redis.url, '--queue', queue, '--run', 'runs/abc');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`queue ${queue}: 0 waiting, 0 active, 0 delayed, 0 completed, 0 failed`);
    expect(r.stdout).toContain('workers: 1 (1 slots)\n  cli-w  cpu  0/1 busy');
    expect(r.stdout).toContain('run abc: 0 waiting');
    await w.close();
  });

  it('names the bad option', () => {
    const a = cli('status', '--redis', 'http://x');
    expect(a.status).toBe(1);
    expect(a.stderr).toBe('nasnet: Expected a URL like redis://host:6379 for redis but received "http://x" of type string\n');
    const b = cli('worker', '--redis', redis.url, '--backend', 'gpu');
    expect(b.status).toBe(1);
    expect(b.stderr).toBe("nasnet: Expected one of 'cpu', 'cuda', 'auto' for --backend but received 'gpu'\n");
    const c = cli('worker');
    expect(c.status).not.toBe(0);
    expect(c.stderr).toContain("required option '--redis <url>' not specified");
    const d = cli('search', '--help');
    expect(d.stdout).toMatch(/--redis <url> +train children on `nasnet worker` machines/);
    expect(d.stdout).toContain('--queue <name>');
  });
});
