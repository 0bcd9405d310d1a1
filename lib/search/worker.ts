import { existsSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { type Job, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import { BACKEND_CHOICES, backends } from '../backends.js';
import { resolveDataset } from '../data/registry.js';
import { BackendUnavailableError, ValidationError } from '../errors.js';
import { checkChoice, checkInteger } from '../util/check.js';
import { ChildAbortedError, type ChildExecutor } from './executor.js';
import { parseChildResult, parseJobPayload } from './job-schema.js';
import { createLocalExecutor } from './local-executor.js';
import { DEFAULT_QUEUE, heartbeatKey, openRedis, type WorkerHeartbeat, waitForRedis } from './status.js';
import type { ChildJob, ChildResult } from './types.js';

/** Options of {@link startWorker} (`nasnet worker`). */
export interface WorkerOptions {
  /** Redis URL, e.g. `redis://10.0.0.5:6379`. */
  redis: string;
  /** Queue name; default 'nasnet' (the controller's `queue`). */
  queue?: string;
  /** Children trained at once on this machine; default 1 (one per GPU, or cores split between them). */
  concurrency?: number;
  /** 'cpu', 'cuda' or 'auto' (default: CUDA when a device is present, else CPU with a notice). */
  backend?: 'cpu' | 'cuda' | 'auto';
  /** This machine's data folder; it wins over the controller's `dataDir`. Default: the controller's folder if it exists here, else the cache. */
  dataDir?: string;
  /** Threads of each training process; default the cores split evenly between `concurrency` children. */
  threadsPerChild?: number;
  /** Name shown by `nasnet status`; default `<host>-<pid>`. */
  name?: string;
  /**
   * Trains one child. Default: the local executor's worker processes (the same trainer as
   * `executor: { kind: 'local' }`), `concurrency` of them, so a crashing child costs only itself.
   * When `signal` aborts (`close(true)`), the trainer should stop within a step and reject.
   */
  trainer?: (job: ChildJob, signal: AbortSignal) => Promise<ChildResult>;
  /** A child's lock lasts this long without renewal before another worker may retry it, ms; default 30 s. */
  lockMs?: number;
  /** How often this worker looks for children whose worker died, ms; default 15 s. */
  stalledIntervalMs?: number;
  /** Times a child is retried after its worker died, before it is failed; default 2. */
  maxStalled?: number;
  /** Heartbeat period, ms (the heartbeat expires after 3 periods); default 5 s. */
  heartbeatMs?: number;
  /** Where progress lines go; default stderr. */
  log?: (line: string) => void;
}

/** A running worker. */
export interface RunningWorker {
  readonly name: string;
  /** The backend children train on. */
  readonly backend: 'cpu' | 'cuda';
  /** Counts since start. */
  stats(): { active: number; done: number; failed: number };
  /**
   * Stops pulling children and disconnects. Without `force` it first finishes the children in
   * progress; with `force` it gives them back to the queue at once (each goes back to waiting, not
   * failed nor counted as a stall, and another worker trains it from the start) and stops their
   * training processes within a step.
   */
  close(force?: boolean): Promise<void>;
}

/** Picks the backend: 'cuda' must be available; 'auto' falls back to CPU with a notice. */
function chooseBackend(requested: 'cpu' | 'cuda' | 'auto', log: (line: string) => void): 'cpu' | 'cuda' {
  if (requested === 'cpu') return 'cpu';
  const report = backends();
  if (report.available.includes('cuda')) return 'cuda';
  const why = `no CUDA device on ${hostname()} (${report.cuda.compiled ? report.cuda.reason : `CUDA not compiled: ${report.cuda.reason}`})`;
  if (requested === 'cuda') throw new BackendUnavailableError(`--backend cuda: ${why}; use --backend cpu or auto`);
  log(`nasnet worker: ${why}; training on the CPU`);
  return 'cpu';
}

/**
 * Starts a worker: pulls child jobs from the queue, checks each payload, finds the data set on this
 * machine, trains the child and returns its result. It keeps a heartbeat in Redis (for `nasnet
 * status` and for the controller to size its batches), reconnects when Redis restarts, and retries
 * the children of dead workers. A malformed payload fails its job at once with the reason; a data
 * set this machine cannot load fails the job with a message naming the places tried (the job is
 * retried, possibly on another machine).
 *
 * @param options - see {@link WorkerOptions}
 * @returns the running worker; `close()` it to stop
 * @throws ValidationError when Redis cannot be reached within 10 s or `dataDir` does not exist;
 *   BackendUnavailableError for `backend: 'cuda'` without a device
 * @example
 * const worker = await startWorker({ redis: 'redis://10.0.0.5:6379', concurrency: 2 });
 * process.on('SIGTERM', () => void worker.close());
 */
export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const queueName = options.queue ?? DEFAULT_QUEUE;
  const concurrency = checkInteger(options.concurrency ?? 1, 'concurrency');
  const requested = checkChoice(options.backend ?? 'auto', 'backend', BACKEND_CHOICES);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const name = options.name ?? `${hostname()}-${process.pid}`;
  const heartbeatMs = checkInteger(options.heartbeatMs ?? 5000, 'heartbeatMs');
  if (options.dataDir !== undefined && !existsSync(options.dataDir)) {
    throw new ValidationError(`--data: folder ${options.dataDir} does not exist on ${hostname()}`);
  }
  if (options.dataDir !== undefined && !statSync(options.dataDir).isDirectory()) {
    throw new ValidationError(`--data: ${options.dataDir} is a file, expected the folder of the data sets`);
  }
  // Every option is checked before Redis is reached (a bad one never leaves a connection open).
  const threadsPerChild = options.threadsPerChild === undefined ? undefined : checkInteger(options.threadsPerChild, 'threadsPerChild');
  const lockDuration = checkInteger(options.lockMs ?? 30_000, 'lockMs');
  const stalledInterval = checkInteger(options.stalledIntervalMs ?? 15_000, 'stalledIntervalMs');
  const maxStalledCount = checkInteger(options.maxStalled ?? 2, 'maxStalled', { min: 0 });
  const backend = chooseBackend(requested, log);
  const handle = openRedis(options.redis, (e, detail) =>
    log(e === 'down' ? `worker ${name}: lost Redis at ${options.redis} (${detail}); reconnecting` : `worker ${name}: reconnected to Redis`),
  );
  try {
    await waitForRedis(handle, options.redis);
  } catch (err) {
    handle.client.disconnect();
    throw err;
  }

  let local: ChildExecutor | undefined;
  let trainer = options.trainer;
  if (!trainer) {
    process.env.NASNET_BACKEND = backend; // inherited by the training processes
    const exec = createLocalExecutor({ concurrency, threadsPerChild });
    local = exec;
    trainer = (job, signal) => exec.submit(job, signal);
  }
  const train = trainer;
  const stats = { active: 0, done: 0, failed: 0 };
  const startedAt = new Date().toISOString();

  // Where each data set loads from on this machine (checked once per data set).
  const dataChecks = new Map<string, Promise<string | undefined>>();
  const findData = (dataset: string, controllerDir: string | undefined): Promise<string | undefined> => {
    const key = `${dataset}\u0000${controllerDir ?? ''}`;
    let found = dataChecks.get(key);
    if (!found) {
      found = (async () => {
        const candidates: (string | undefined)[] = options.dataDir !== undefined ? [options.dataDir] : controllerDir !== undefined && existsSync(controllerDir) ? [controllerDir, undefined] : [undefined];
        const causes: string[] = [];
        for (const dir of candidates) {
          try {
            await resolveDataset(dataset, { dataDir: dir, download: false, progress: false });
            return dir;
          } catch (err) {
            causes.push(`${dir ?? 'the cache'}: ${(err as Error).message}`);
          }
        }
        throw new Error(`worker ${name} on ${hostname()} cannot load data set '${dataset}' (${causes.join('; ')}); put it in the cache or start the worker with --data DIR`);
      })();
      dataChecks.set(key, found);
      found.catch(() => dataChecks.delete(key));
    }
    return found;
  };

  // Children in training, so that close(true) can give them back.
  const inProgress = new Set<{ bj: Job; token: string | undefined; abort: AbortController }>();
  let givingBack = false;

  const process1 = async (bj: Job, token?: string): Promise<ChildResult> => {
    let job: ChildJob;
    try {
      job = parseJobPayload(bj.data);
    } catch (err) {
      stats.failed++;
      const msg = `${(err as Error).message} (refused by worker ${name})`;
      log(`worker ${name}: refused job ${bj.id}: ${msg}`);
      throw new UnrecoverableError(msg);
    }
    stats.active++;
    try {
      let dataDir: string | undefined;
      try {
        dataDir = await findData(job.dataset, job.dataDir);
      } catch (err) {
        stats.failed++;
        log(`worker ${name}: job ${bj.id}: ${(err as Error).message}`);
        throw err;
      }
      log(`worker ${name}: start ${bj.id} child ${job.id}`);
      const mine = { bj, token, abort: new AbortController() };
      if (givingBack) mine.abort.abort();
      inProgress.add(mine);
      let out: ChildResult;
      try {
        out = await train({ ...job, dataDir }, mine.abort.signal);
      } catch (err) {
        if (!(err instanceof ChildAbortedError) && !mine.abort.signal.aborted) throw err;
        // Given back: to waiting, so another worker trains it from the start; not a failure.
        await bj.moveToWait(token);
        log(`worker ${name}: gave back ${bj.id} child ${job.id} (${(err as Error).message})`);
        throw new WaitingError();
      } finally {
        inProgress.delete(mine);
      }
      // Checked as the controller will see it: after the JSON round trip through Redis.
      // (`worker` names the local process; the controller names this worker from the job instead.)
      const { worker: _process, ...trained } = out;
      const result = parseChildResult(JSON.parse(JSON.stringify(trained)), String(bj.id));
      stats.done++;
      log(`worker ${name}: done ${bj.id} child ${job.id} in ${result.seconds.toFixed(1)} s, ${result.error ? `error: ${result.error}` : `accuracy ${result.accuracy.toFixed(4)}`}`);
      return result;
    } finally {
      stats.active--;
    }
  };

  const worker = new Worker(queueName, process1, {
    connection: handle.client,
    concurrency,
    name,
    lockDuration,
    stalledInterval,
    maxStalledCount,
  });
  worker.on('error', (err) => {
    if (!/Connection is closed|ECONNREFUSED|ECONNRESET/.test(err.message)) log(`worker ${name}: ${err.message}`);
  });

  const beat = async () => {
    const hb: WorkerHeartbeat = {
      name,
      host: hostname(),
      pid: process.pid,
      concurrency,
      backend,
      dataDir: options.dataDir,
      ...stats,
      startedAt,
      at: new Date().toISOString(),
      expiresAt: new Date(Date.now() + heartbeatMs * 3).toISOString(),
    };
    await handle.client.hset(heartbeatKey(queueName), name, JSON.stringify(hb));
  };
  await beat();
  const timer = setInterval(() => void beat().catch(() => undefined), heartbeatMs);
  log(`worker ${name}: waiting for children on queue '${queueName}' at ${options.redis} (${concurrency} at once, ${backend})`);

  return {
    name,
    backend,
    stats: () => ({ ...stats }),
    async close(force = false) {
      clearInterval(timer);
      const closing = worker.close();
      if (force) {
        givingBack = true;
        for (const c of inProgress) c.abort.abort();
      }
      await closing;
      // With Redis down, do not wait for it: the heartbeat expires by itself.
      let t: NodeJS.Timeout | undefined;
      await Promise.race([handle.client.hdel(heartbeatKey(queueName), name).catch(() => undefined), new Promise((r) => (t = setTimeout(r, 1000)))]);
      clearTimeout(t);
      await local?.close();
      handle.client.disconnect();
    },
  };
}
