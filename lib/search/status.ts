/**
 * Redis connections, worker heartbeats and the state of a distributed search (`nasnet status`).
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { ValidationError } from '../errors.js';
import { invalid, received } from '../util/check.js';
import { runIdPrefix, safeRunId } from './job-schema.js';

/** The default BullMQ queue name. */
export const DEFAULT_QUEUE = 'nasnet';

/** A Redis client plus the last connection error it saw (for clear messages). */
export interface RedisHandle {
  client: Redis;
  /** The last connection error, e.g. `connect ECONNREFUSED 127.0.0.1:6390`; cleared when ready. */
  lastError(): string | undefined;
}

/**
 * Opens a Redis client for BullMQ: retries forever (a restarted Redis is reconnected to), never
 * fails a command while disconnected (commands wait for the connection).
 *
 * @param url - `redis://[user:password@]host:port[/db]` or `rediss://...`
 * @param onEvent - told `'down'` (with the cause) once per outage and `'up'` when connected again
 * @throws ValidationError when the URL is not a redis:// URL
 * @example
 * const { client } = openRedis('redis://127.0.0.1:6379');
 */
export function openRedis(url: string, onEvent?: (event: 'up' | 'down', detail?: string) => void): RedisHandle {
  checkRedisUrl(url);
  const client = new Redis(url, { maxRetriesPerRequest: null, retryStrategy: (n: number) => Math.min(100 * n, 1000) });
  let last: string | undefined;
  let down = false;
  client.on('error', (err: Error) => {
    last = err.message;
    if (!down) {
      down = true;
      onEvent?.('down', err.message);
    }
  });
  client.on('close', () => {
    if (!down && client.status !== 'end') {
      down = true;
      onEvent?.('down', 'connection closed');
    }
  });
  client.on('ready', () => {
    last = undefined;
    if (down) {
      down = false;
      onEvent?.('up');
    }
  });
  return { client, lastError: () => last };
}

/**
 * Throws a {@link ValidationError} unless `url` is a redis:// or rediss:// URL with a host (the
 * `redis` option of the API, `--redis` of the CLI).
 */
export function checkRedisUrl(url: string): string {
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== 'redis:' && u.protocol !== 'rediss:') || u.hostname === '') {
    throw invalid('redis', 'a URL like redis://host:6379', received(url));
  }
  return url;
}

/**
 * Checks that Redis at `url` answers PING (a connection opened and closed for it), before any work.
 *
 * @param url - redis://host:port
 * @param timeoutMs - default 10 s
 * @throws ValidationError naming the URL and the cause
 */
export async function checkRedisReachable(url: string, timeoutMs = 10_000): Promise<void> {
  const handle = openRedis(url);
  try {
    await waitForRedis(handle, url, timeoutMs);
  } finally {
    handle.client.disconnect();
  }
}

/**
 * Waits until the client answers PING, or fails with a message naming the URL and the cause.
 *
 * @param handle - from {@link openRedis}
 * @param url - named in the error
 * @param timeoutMs - default 10 s
 */
export async function waitForRedis(handle: RedisHandle, url: string, timeoutMs = 10_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const why = handle.lastError() ?? 'no answer';
      reject(new ValidationError(`cannot reach Redis at ${url} within ${(timeoutMs / 1000).toFixed(0)} s (${why}); is redis-server running there?`));
    }, timeoutMs);
  });
  try {
    await Promise.race([handle.client.ping(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a worker writes to Redis every few seconds (expires when the worker dies). */
export interface WorkerHeartbeat {
  name: string;
  host: string;
  pid: number;
  concurrency: number;
  backend: string;
  dataDir?: string;
  /** Children being trained now. */
  active: number;
  /** Children finished (with a result) since the worker started. */
  done: number;
  /** Jobs that failed on this worker (bad payload, missing data set). */
  failed: number;
  startedAt: string;
  /** ISO time of this heartbeat. */
  at: string;
  /** ISO time after which the worker counts as gone (three heartbeat periods). */
  expiresAt: string;
}

/** The Redis hash holding the heartbeats of a queue's workers (field = worker name). */
export function heartbeatKey(queue: string): string {
  return `nasnet:${queue}:workers`;
}

/**
 * The live workers of a queue (those whose heartbeat has not expired), sorted by name. Expired
 * heartbeats (workers that died) are removed.
 *
 * @param client - a Redis client
 * @param queue - the queue name
 */
export async function listWorkers(client: Redis, queue: string): Promise<WorkerHeartbeat[]> {
  const all = await client.hgetall(heartbeatKey(queue));
  const now = Date.now();
  const out: WorkerHeartbeat[] = [];
  const stale: string[] = [];
  for (const [field, v] of Object.entries(all)) {
    try {
      const hb = JSON.parse(v) as WorkerHeartbeat;
      if (Date.parse(hb.expiresAt) >= now) out.push(hb);
      else stale.push(field);
    } catch {
      stale.push(field);
    }
  }
  if (stale.length > 0) await client.hdel(heartbeatKey(queue), ...stale);
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Job counts of a queue or of one run. */
export interface JobCounts {
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
}

/** What {@link queueStatus} reports. */
export interface QueueStatus {
  queue: string;
  workers: WorkerHeartbeat[];
  /** The whole queue (every run). */
  counts: JobCounts;
  /** Children finished in the last hour (whole queue). */
  lastHour: number;
  run?: {
    id: string;
    counts: JobCounts;
    /** Finished children per hour, over the run's span (first start to last finish); 0 with fewer than one finished. */
    childrenPerHour: number;
    /** ISO time of the last finished child. */
    lastFinishedAt?: string;
    /** The reasons of the run's failed jobs (up to 10). */
    failures: { id: string; reason: string }[];
  };
}

/**
 * Reads the state of a distributed search: live workers, queue depth, and for one run its job
 * counts, children per hour and failures.
 *
 * @param options - `redis` URL, `queue` (default 'nasnet'), `runId` (a run folder's name or path), `timeoutMs` to reach Redis (default 10 s)
 * @example
 * console.log(formatStatus(await queueStatus({ redis: 'redis://127.0.0.1:6379', runId: 'runs/r1' })));
 */
export async function queueStatus(options: { redis: string; queue?: string; runId?: string; timeoutMs?: number }): Promise<QueueStatus> {
  const queueName = options.queue ?? DEFAULT_QUEUE;
  const handle = openRedis(options.redis);
  const queue = new Queue(queueName, { connection: handle.client, skipMetasUpdate: true });
  queue.on('error', () => undefined); // connection errors: waitForRedis says it once, naming the URL
  try {
    await waitForRedis(handle, options.redis, options.timeoutMs);
    const workers = await listWorkers(handle.client, queueName);
    const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized');
    const counts: JobCounts = { waiting: (c.waiting ?? 0) + (c.prioritized ?? 0), active: c.active ?? 0, delayed: c.delayed ?? 0, completed: c.completed ?? 0, failed: c.failed ?? 0 };
    const status: QueueStatus = { queue: queueName, workers, counts, lastHour: 0 };
    const hourAgo = Date.now() - 3.6e6;
    const completed = await queue.getJobs(['completed'], 0, -1);
    status.lastHour = completed.filter((j) => (j.finishedOn ?? 0) >= hourAgo).length;
    if (options.runId !== undefined) {
      const id = safeRunId(options.runId.replace(/\/+$/, '').split('/').pop() ?? options.runId);
      const prefix = runIdPrefix(id);
      const rc: JobCounts = { waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0 };
      const failures: { id: string; reason: string }[] = [];
      let first = Infinity;
      let last = 0;
      for (const state of ['waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed'] as const) {
        const jobs = state === 'completed' ? completed : await queue.getJobs([state], 0, -1);
        for (const j of jobs) {
          if (!j.id?.startsWith(prefix)) continue;
          const key: keyof JobCounts = state === 'prioritized' ? 'waiting' : state;
          rc[key]++;
          if (state === 'failed' && failures.length < 10) failures.push({ id: j.id, reason: j.failedReason ?? '' });
          if (state === 'completed' && j.finishedOn) {
            first = Math.min(first, j.processedOn ?? j.finishedOn);
            last = Math.max(last, j.finishedOn);
          }
        }
      }
      const hours = (last - first) / 3.6e6;
      status.run = {
        id,
        counts: rc,
        childrenPerHour: rc.completed > 0 && hours > 0 ? rc.completed / hours : 0,
        lastFinishedAt: last > 0 ? new Date(last).toISOString() : undefined,
        failures,
      };
    }
    return status;
  } finally {
    await queue.close().catch(() => undefined);
    handle.client.disconnect();
  }
}

/**
 * Formats a {@link QueueStatus} as the text `nasnet status` prints.
 *
 * @param s - from {@link queueStatus}
 */
export function formatStatus(s: QueueStatus): string {
  const n = (c: JobCounts) => `${c.waiting} waiting, ${c.active} active, ${c.delayed} delayed, ${c.completed} completed, ${c.failed} failed`;
  const lines = [`queue ${s.queue}: ${n(s.counts)}; ${s.lastHour} children finished in the last hour`];
  const slots = s.workers.reduce((a, w) => a + w.concurrency, 0);
  lines.push(`workers: ${s.workers.length} (${slots} slots)`);
  for (const w of s.workers) {
    lines.push(`  ${w.name}  ${w.backend}  ${w.active}/${w.concurrency} busy  ${w.done} done  ${w.failed} failed  since ${w.startedAt}`);
  }
  if (s.run) {
    const r = s.run;
    lines.push(`run ${r.id}: ${n(r.counts)}; ${r.childrenPerHour.toFixed(1)} children/hour${r.lastFinishedAt ? `; last finished ${r.lastFinishedAt}` : ''}`);
    for (const f of r.failures) lines.push(`  failed ${f.id}: ${f.reason}`);
  }
  return lines.join('\n');
}
