import { Queue, QueueEvents } from 'bullmq';
import { checkInteger } from '../util/check.js';
import type { ChildExecutor } from './executor.js';
import { childFailure } from './failure.js';
import { childJobId, encodeJobPayload, parseChildResult } from './job-schema.js';
import { DEFAULT_QUEUE, listWorkers, openRedis, waitForRedis } from './status.js';
import type { ChildJob, ChildResult } from './types.js';

/** Options of the BullMQ executor. */
export interface BullmqExecutorOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379`. */
  redis: string;
  /** Queue name; default 'nasnet'. Workers must use the same. */
  queue?: string;
  /** Children kept in flight; default the live workers' total slots (read from their heartbeats), at least 1. */
  concurrency?: number;
  /** Tries of a job that throws on a worker (e.g. its data set is missing there); default 2. Workers that die are governed by the workers' `maxStalled`. */
  attempts?: number;
  /** How often every pending child's job is checked (a safety net behind Redis events), ms; default 1000. */
  pollMs?: number;
  /** Finished jobs stay in Redis this long, so a restarted controller collects them, s; default 7 days. */
  keepSeconds?: number;
  /** Time to reach Redis before the first submission fails, ms; default 10 s. */
  connectTimeoutMs?: number;
  /** After this long with children queued and no live worker on the queue, say so (and again at each multiple), ms; default 30 s. */
  noWorkerNoticeMs?: number;
  /** After this long with children queued and no live worker on the queue, give up: pending submissions reject (the children stay queued; resume the search to collect them), ms; default 1 hour. */
  noWorkerTimeoutMs?: number;
  /** Where notices go (a job that vanished from Redis and was queued again, no worker on the queue); default stderr. */
  log?: (line: string) => void;
}

interface Pending {
  job: ChildJob;
  waiters: ((r: ChildResult) => void)[];
  rejecters: ((e: Error) => void)[];
  checking: boolean;
  recheck: boolean;
  /** Seen in (or added to) Redis at least once. */
  queued: boolean;
}

/** The BullMQ executor: a {@link ChildExecutor} that can also describe the queue. */
export interface BullmqExecutor extends ChildExecutor {
  readonly queueName: string;
  /** For progress lines: `2 workers, 3 queued, 2 training` (refreshed every `pollMs`; '' before Redis answers). */
  progressInfo(): string;
}


/**
 * Trains children on other machines through a BullMQ queue on Redis; `nasnet worker --redis URL`
 * on each machine pulls and trains them. Job ids derive from the run, the child's canonical hash,
 * its seed and the proxy configuration, so submitting a child that is already queued, training or
 * finished attaches to that job: a restarted controller (`resume`) collects the children finished
 * while it was down and duplicates none. Closing the executor leaves queued children in Redis.
 *
 * A worker that dies mid-child loses its lock; another worker retries the child (a bounded number
 * of times, then the child is recorded as failed with the reason). A job whose payload is malformed
 * is refused at submission (or by the worker) and becomes a result with `error`.
 *
 * @param options - redis URL, queue name, children in flight, retries, poll interval
 * @example
 * const executor = createBullmqExecutor({ redis: 'redis://127.0.0.1:6379', queue: 'nasnet' });
 * const result = await executor.submit(job);
 * await executor.close();
 */
export function createBullmqExecutor(options: BullmqExecutorOptions): BullmqExecutor {
  const queueName = options.queue ?? DEFAULT_QUEUE;
  const fixed = options.concurrency === undefined ? undefined : checkInteger(options.concurrency, 'concurrency');
  const attempts = checkInteger(options.attempts ?? 2, 'attempts');
  const pollMs = checkInteger(options.pollMs ?? 1000, 'pollMs');
  const keepSeconds = checkInteger(options.keepSeconds ?? 7 * 24 * 3600, 'keepSeconds');
  const noWorkerNoticeMs = checkInteger(options.noWorkerNoticeMs ?? 30_000, 'noWorkerNoticeMs');
  const noWorkerTimeoutMs = checkInteger(options.noWorkerTimeoutMs ?? 3_600_000, 'noWorkerTimeoutMs');
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const handle = openRedis(options.redis, (e, detail) => log(e === 'down' ? `nasnet: lost Redis at ${options.redis} (${detail}); reconnecting` : `nasnet: Redis at ${options.redis} is back`));
  const eventsHandle = openRedis(options.redis);
  const pending = new Map<string, Pending>();
  let slots = 1;
  let closed = false;
  // BullMQ's objects are made once Redis answers; when it does not, nothing is left retrying.
  let queue: Queue | undefined;
  let events: QueueEvents | undefined;
  const ready = waitForRedis(handle, options.redis, options.connectTimeoutMs).then(
    () => {
      queue = new Queue(queueName, { connection: handle.client });
      events = new QueueEvents(queueName, { connection: eventsHandle.client });
      queue.on('error', () => undefined); // connection errors are reported once by openRedis
      events.on('error', () => undefined);
      events.on('completed', ({ jobId }) => checkLogged(jobId));
      events.on('failed', ({ jobId }) => checkLogged(jobId));
      events.on('removed', ({ jobId }) => checkLogged(jobId));
      return queue;
    },
    (err: Error) => {
      handle.client.disconnect();
      eventsHandle.client.disconnect();
      throw err;
    },
  );
  ready.catch(() => undefined);

  const settle = (id: string, result: ChildResult) => {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    for (const w of p.waiters) w(result);
  };

  const fail = (id: string, err: Error) => {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    for (const r of p.rejecters) r(err);
  };

  const add = async (id: string, job: ChildJob) =>
    (await ready).add('child', encodeJobPayload(job), {
      jobId: id,
      attempts,
      backoff: { type: 'fixed', delay: 1000 },
      removeOnComplete: { age: keepSeconds },
      removeOnFail: { age: keepSeconds },
    });

  /** Looks at the child's job: collects a finished one, queues a missing one, leaves the rest. */
  const check = async (id: string): Promise<void> => {
    const p = pending.get(id);
    if (!p) return;
    if (p.checking) {
      p.recheck = true;
      return;
    }
    p.checking = true;
    try {
      do {
        p.recheck = false;
        let j = await (await ready).getJob(id);
        if (!pending.has(id)) return;
        if (!j) {
          if (p.queued) log(`nasnet: child ${p.job.id} (job ${id}) is gone from Redis (restarted without persistence?); queued again`);
          await add(id, p.job);
          p.queued = true;
          continue;
        }
        p.queued = true;
        const state = await j.getState();
        // The job may have finished between the two reads: then the first read lacks its result or
        // its reason (and a completed job without a result would be queued again, training it twice).
        if (state === 'completed' || state === 'failed') j = (await (await ready).getJob(id)) ?? j;
        if (state === 'completed' && (j.returnvalue === null || j.returnvalue === undefined)) {
          // A job that a Redis restart recreated around a worker's late completion: the result is
          // gone, so the child is trained again (workers never return an empty result).
          log(`nasnet: child ${p.job.id} (job ${id}) completed without a result (Redis restarted?); queued again`);
          await j.remove().catch(() => undefined);
          await add(id, p.job);
          continue;
        }
        if (state === 'completed') {
          let result: ChildResult;
          try {
            result = parseChildResult(j.returnvalue, id);
          } catch (err) {
            result = childFailure((err as Error).message);
          }
          settle(id, j.processedBy ? { ...result, worker: j.processedBy } : result);
        } else if (state === 'failed') {
          const secs = j.finishedOn && j.processedOn ? (j.finishedOn - j.processedOn) / 1000 : 0;
          const reason = j.failedReason ?? 'no reason recorded';
          const why = /stalled more than allowable limit/.test(reason)
            ? `its worker died or stalled on every try (${j.stalledCounter ?? '?'} stalls; BullMQ: ${reason})`
            : reason;
          settle(id, { ...childFailure(`job ${id} failed after ${j.attemptsMade} attempt(s): ${why}`, secs), ...(j.processedBy ? { worker: j.processedBy } : {}) });
        } else if (state === 'unknown') {
          p.recheck = true; // removed between the two reads: look again (and queue it again)
        }
      } while (p.recheck && pending.has(id));
    } finally {
      p.checking = false;
    }
  };

  const checkLogged = (id: string) => {
    check(id).catch((err: Error) => {
      if (!closed) log(`nasnet: checking job ${id}: ${err.message}`);
    });
  };
  let info = '';
  // Children queued while no worker serves the queue: said after noWorkerNoticeMs, given up after noWorkerTimeoutMs.
  let noWorkerSince: number | undefined;
  let notices = 0;
  const watchWorkers = (workerCount: number) => {
    if (workerCount > 0 || pending.size === 0) {
      noWorkerSince = undefined;
      notices = 0;
      return;
    }
    noWorkerSince ??= Date.now();
    const waited = Date.now() - noWorkerSince;
    const what = `${pending.size} child${pending.size === 1 ? '' : 'ren'} queued on '${queueName}' at ${options.redis}, and no worker serves that queue`;
    if (waited >= noWorkerTimeoutMs) {
      const err = new Error(
        `${what} for ${Math.round(waited / 1000)} s (noWorkerTimeoutMs ${noWorkerTimeoutMs}): giving up. The children stay queued; ` +
          `start \`nasnet worker --redis ${options.redis} --queue ${queueName}\` and resume the search to collect them`,
      );
      for (const id of [...pending.keys()]) fail(id, err);
      noWorkerSince = undefined;
    } else if (waited >= (notices + 1) * noWorkerNoticeMs) {
      notices = Math.floor(waited / noWorkerNoticeMs);
      log(`nasnet: ${what} (waiting ${Math.round(waited / 1000)} s): start one with \`nasnet worker --redis ${options.redis} --queue ${queueName}\``);
    }
  };
  const refreshSlots = async () => {
    const workers = await listWorkers(handle.client, queueName);
    if (!closed) watchWorkers(workers.length);
    slots = Math.max(1, workers.reduce((a, w) => a + w.concurrency, 0));
    if (queue) {
      const c = await queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
      info = `${workers.length} worker${workers.length === 1 ? '' : 's'}, ${(c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0)} queued, ${c.active ?? 0} training`;
    }
  };
  ready.then(refreshSlots).catch(() => undefined);
  const timer = setInterval(() => {
    if (closed || !queue) return;
    for (const id of pending.keys()) checkLogged(id);
    refreshSlots().catch(() => undefined);
  }, pollMs);
  timer.unref();

  return {
    queueName,
    progressInfo: () => info,
    get concurrency() {
      return fixed ?? slots;
    },
    async submit(job) {
      if (closed) throw new Error('executor is closed');
      let id: string;
      try {
        encodeJobPayload(job);
        id = childJobId(job);
      } catch (err) {
        return childFailure((err as Error).message);
      }
      await ready;
      return new Promise<ChildResult>((resolve, reject) => {
        const p = pending.get(id);
        if (p) {
          p.waiters.push(resolve);
          p.rejecters.push(reject);
          return;
        }
        pending.set(id, { job, waiters: [resolve], rejecters: [reject], checking: false, recheck: false, queued: false });
        check(id).catch((err: Error) => fail(id, new Error(`submitting child ${job.id} (job ${id}) to queue ${queueName}: ${err.message}`)));
      });
    },
    async close() {
      closed = true;
      clearInterval(timer);
      for (const id of [...pending.keys()]) fail(id, new Error(`executor closed before child job ${id} finished (it stays queued; resume the search to collect it)`));
      // Closing waits for the connection; with Redis unreachable, give up after 2 s and drop it.
      let timer2: NodeJS.Timeout | undefined;
      const graceful = Promise.all([events?.close(), queue?.close()]).catch(() => undefined);
      await Promise.race([graceful, new Promise((r) => (timer2 = setTimeout(r, 2000)))]);
      clearTimeout(timer2);
      handle.client.disconnect();
      eventsHandle.client.disconnect();
    },
  };
}
