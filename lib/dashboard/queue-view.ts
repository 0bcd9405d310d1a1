/**
 * The live view of a BullMQ queue for the dashboard: the workers (from their heartbeats), the child
 * each one trains now (the active jobs and the worker that took them), and the queue's depth, per
 * run and in all. Polled while the dashboard runs; an unreachable Redis is reported, not thrown.
 */
import { Queue } from 'bullmq';
import { runIdPrefix } from '../search/job-schema.js';
import { DEFAULT_QUEUE, listWorkers, openRedis } from '../search/status.js';
import type { QueueSnapshot, QueueWorker } from './protocol.js';

/** Options of {@link createQueueView}. */
export interface QueueViewOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379`. */
  redis: string;
  /** Queue name; default 'nasnet'. */
  queue?: string;
  /** Poll period, ms; default 1000. */
  pollMs?: number;
  /** Maps a job id to the dashboard run it belongs to (by the run's job-id prefix), if any. */
  runOf?: (jobId: string) => string | undefined;
  /** Called with each snapshot that differs from the previous one. */
  onChange?: (s: QueueSnapshot) => void;
}

/** A polled view of a queue. */
export interface QueueView {
  /** The latest snapshot (undefined before the first poll ends). */
  snapshot(): QueueSnapshot | undefined;
  /** Polls now and resolves with the snapshot. */
  poll(): Promise<QueueSnapshot>;
  close(): Promise<void>;
}

/** One poll gives up after this long (Redis down: commands wait for the reconnection). */
const POLL_TIMEOUT_MS = 3000;

/**
 * Maps job ids to runs by the prefix the search gives every job id of a run (`<runId>.`).
 *
 * @param runs - dashboard run id → the search's `runId` (config.json)
 */
export function jobRunMatcher(runs: () => Iterable<[string, string | undefined]>): (jobId: string) => string | undefined {
  return (jobId) => {
    for (const [id, searchRunId] of runs()) if (searchRunId !== undefined && jobId.startsWith(runIdPrefix(searchRunId))) return id;
    return undefined;
  };
}

/**
 * Watches a BullMQ queue: workers with their current children, and job counts.
 *
 * @param options - redis URL, queue, poll period, run matcher, change callback
 * @example
 * const view = createQueueView({ redis: 'redis://127.0.0.1:6379', onChange: (s) => console.log(s.workers.length) });
 * await view.close();
 */
export function createQueueView(options: QueueViewOptions): QueueView {
  const queueName = options.queue ?? DEFAULT_QUEUE;
  const handle = openRedis(options.redis);
  const queue = new Queue(queueName, { connection: handle.client, skipMetasUpdate: true });
  queue.on('error', () => undefined); // reported in the snapshot
  let last: QueueSnapshot | undefined;
  let lastText = '';
  let running: Promise<QueueSnapshot> | undefined;
  let closed = false;

  const read = async (): Promise<QueueSnapshot> => {
    const workers = await listWorkers(handle.client, queueName);
    const c = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed');
    const active = await queue.getJobs(['active'], 0, -1);
    const waitingIds = (await queue.getRanges(['wait', 'prioritized', 'delayed'], 0, -1)) as string[];
    const byRun: QueueSnapshot['byRun'] = {};
    const count = (jobId: string | undefined, key: 'waiting' | 'active') => {
      const run = jobId === undefined ? undefined : options.runOf?.(jobId);
      if (run === undefined) return;
      byRun[run] ??= { waiting: 0, active: 0 };
      byRun[run][key]++;
    };
    for (const id of waitingIds) count(id, 'waiting');
    const current = new Map<string, QueueWorker['current']>();
    for (const j of active) {
      count(j.id, 'active');
      const job = (j.data as { job?: { id?: unknown; runId?: unknown } } | undefined)?.job;
      const entry = {
        jobId: String(j.id),
        runId: typeof job?.runId === 'string' ? job.runId : '?',
        child: typeof job?.id === 'number' || typeof job?.id === 'string' ? job.id : '?',
        since: j.processedOn ? new Date(j.processedOn).toISOString() : undefined,
      };
      const by = j.processedBy ?? '';
      current.set(by, [...(current.get(by) ?? []), entry]);
    }
    return {
      redis: options.redis,
      queue: queueName,
      at: new Date().toISOString(),
      workers: workers.map((w) => ({
        name: w.name,
        host: w.host,
        backend: w.backend,
        concurrency: w.concurrency,
        active: w.active,
        done: w.done,
        failed: w.failed,
        startedAt: w.startedAt,
        current: current.get(w.name) ?? [],
      })),
      counts: {
        waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
        active: c.active ?? 0,
        delayed: c.delayed ?? 0,
        completed: c.completed ?? 0,
        failed: c.failed ?? 0,
      },
      byRun,
    };
  };

  const pollOnce = async (): Promise<QueueSnapshot> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${POLL_TIMEOUT_MS / 1000} s`)), POLL_TIMEOUT_MS);
    });
    let s: QueueSnapshot;
    try {
      s = await Promise.race([read(), timeout]);
    } catch (err) {
      const why = handle.lastError() ?? (err as Error).message;
      s = { ...(last ?? { workers: [], counts: { waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0 }, byRun: {} }), redis: options.redis, queue: queueName, at: new Date().toISOString(), error: `cannot reach Redis at ${options.redis} (${why})` };
    } finally {
      clearTimeout(timer);
    }
    last = s;
    const { at: _at, ...rest } = s;
    const text = JSON.stringify(rest);
    if (text !== lastText && !closed) {
      lastText = text;
      options.onChange?.(s);
    }
    return s;
  };

  const poll = () => {
    running ??= pollOnce().finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer = setInterval(() => void poll(), options.pollMs ?? 1000);
  timer.unref();
  void poll();

  return {
    snapshot: () => last,
    poll,
    async close() {
      closed = true;
      clearInterval(timer);
      let t: NodeJS.Timeout | undefined;
      await Promise.race([queue.close().catch(() => undefined), new Promise((r) => (t = setTimeout(r, 1000)))]);
      clearTimeout(t);
      handle.client.disconnect();
    },
  };
}
