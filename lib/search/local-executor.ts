import { type ChildProcess, fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { BACKEND_CHOICES, type BackendChoice } from '../backends.js';
import { checkChoice, checkInteger } from '../util/check.js';
import { trainChild } from './child.js';
import { ChildAbortedError, type ChildExecutor } from './executor.js';
import { childFailure } from './failure.js';
import type { ChildJob, ChildResult } from './types.js';

/** Options of the local executor. */
export interface LocalExecutorOptions {
  /** Children trained at once; default 1. The cores are split evenly between them. */
  concurrency?: number;
  /**
   * 'process' (default): each child runs in a worker process, so a crash costs only that child.
   * 'inline': children run in this process (concurrency 1 only; useful for tests and debugging).
   */
  isolation?: 'process' | 'inline';
  /** Threads per worker process; default floor(cores / concurrency), at least 1. */
  threadsPerChild?: number;
  /**
   * Where children train: 'cpu', 'cuda' or 'auto' (CUDA when a device is usable). Worker processes
   * get it as NASNET_BACKEND; default: this process's NASNET_BACKEND, else 'cpu'.
   */
  backend?: BackendChoice;
}

interface Pending {
  job: ChildJob;
  resolve: (r: ChildResult) => void;
  reject: (e: Error) => void;
}

interface Worker {
  proc: ChildProcess;
  busy?: Pending;
}

function workerEntry(): { file: string; execArgv: string[] } {
  const self = fileURLToPath(import.meta.url);
  if (self.endsWith('.ts')) {
    // Running from the TypeScript sources (tests, tsx): the worker needs tsx's loader too.
    return { file: self.replace(/local-executor\.ts$/, 'child-process.ts'), execArgv: ['--import', 'tsx'] };
  }
  return { file: self.replace(/local-executor\.js$/, 'child-process.js'), execArgv: [] };
}

/**
 * Trains children on this machine: several at once in worker processes that split the cores, or
 * inline. A worker process that dies mid-child (a crash, a kill) costs only that child: its result
 * carries the error, and a new worker takes its place.
 *
 * @param options - concurrency, isolation, threads per child, backend
 * @example
 * const executor = createLocalExecutor({ concurrency: 2, backend: 'auto' });
 * const result = await executor.submit(job);
 * await executor.close();
 */
export function createLocalExecutor(options: LocalExecutorOptions = {}): ChildExecutor {
  const concurrency = checkInteger(options.concurrency ?? 1, 'concurrency');
  const isolation = checkChoice(options.isolation ?? 'process', 'isolation', ['process', 'inline'] as const);
  const backend = options.backend === undefined ? undefined : checkChoice(options.backend, 'backend', BACKEND_CHOICES);
  if (isolation === 'inline') {
    let queue: Promise<unknown> = Promise.resolve();
    return {
      concurrency: 1,
      submit(job) {
        const run = queue.then(() => trainChild(job, backend));
        queue = run.catch(() => undefined);
        return run;
      },
      async close() {
        await queue;
      },
    };
  }
  const threads = options.threadsPerChild ?? Math.max(1, Math.floor(availableParallelism() / concurrency));
  const entry = workerEntry();
  const workers: Worker[] = [];
  const waiting: Pending[] = [];
  let closed = false;

  const spawn = (): Worker => {
    const proc = fork(entry.file, [], {
      execArgv: entry.execArgv,
      env: { ...process.env, OMP_NUM_THREADS: String(threads), ...(backend ? { NASNET_BACKEND: backend } : {}) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const w: Worker = { proc };
    proc.on('message', (msg: { type: string; id?: number; result?: ChildResult }) => {
      if (msg.type === 'result' && w.busy && msg.id === w.busy.job.id) {
        const b = w.busy;
        w.busy = undefined;
        b.resolve({ ...msg.result!, worker: `local:${proc.pid}` });
        pump();
      }
    });
    proc.on('exit', (code, signal) => {
      const i = workers.indexOf(w);
      if (i >= 0) workers.splice(i, 1);
      if (w.busy) {
        const b = w.busy;
        w.busy = undefined;
        b.resolve(childFailure(`worker process ${proc.pid} exited (${signal ?? `code ${code}`}) while training child ${b.job.id}`));
      }
      if (!closed) pump();
    });
    workers.push(w);
    return w;
  };

  const pump = () => {
    while (waiting.length > 0) {
      let idle = workers.find((w) => !w.busy && w.proc.connected);
      if (!idle && workers.length < concurrency) idle = spawn();
      if (!idle) return;
      const item = waiting.shift()!;
      idle.busy = item;
      idle.proc.send({ type: 'job', job: item.job });
    }
  };

  return {
    concurrency,
    submit(job, signal) {
      if (closed) return Promise.reject(new Error('executor is closed'));
      if (signal?.aborted) return Promise.reject(new ChildAbortedError(`child ${job.id} aborted before it started`));
      return new Promise<ChildResult>((resolve, reject) => {
        const item: Pending = { job, resolve, reject };
        // Aborted: a queued child leaves the queue; a training one loses its process at once (the
        // step in progress ends with it), and a new process takes its place for the next child.
        signal?.addEventListener(
          'abort',
          () => {
            const i = waiting.indexOf(item);
            if (i >= 0) waiting.splice(i, 1);
            const w = workers.find((x) => x.busy === item);
            if (w) {
              w.busy = undefined;
              w.proc.kill('SIGKILL');
            }
            if (i >= 0 || w) reject(new ChildAbortedError(`child ${job.id} aborted${w ? ` (training process ${w.proc.pid} stopped)` : ' before it started'}`));
          },
          { once: true },
        );
        waiting.push(item);
        pump();
      });
    },
    async close() {
      closed = true;
      for (const item of waiting.splice(0)) item.reject(new Error('executor closed before the child started'));
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve) => {
              if (w.proc.exitCode !== null || w.proc.signalCode !== null) return resolve();
              w.proc.once('exit', () => resolve());
              w.proc.disconnect();
            }),
        ),
      );
    },
  };
}
