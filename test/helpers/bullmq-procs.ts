/** Worker processes for the BullMQ tests: spawned from the TypeScript sources, their log lines kept. */
import { type ChildProcess, spawn } from 'node:child_process';

/** Which trainer the end-to-end tests' workers use. */
export type WorkerMode = 'real' | 'scripted';

/** A spawned worker process and the lines it wrote to stderr. */
export interface WorkerProc {
  name: string;
  proc: ChildProcess;
  lines: string[];
  exited: Promise<void>;
}

/** Options of a spawned worker (see test/helpers/bullmq-worker.ts). */
export interface WorkerProcSpec {
  mode: WorkerMode;
  redis: string;
  queue: string;
  name: string;
  childMs?: number;
  dieOnChild?: number;
  lockMs?: number;
  stalledIntervalMs?: number;
  maxStalled?: number;
  /** Threads of each training process (real mode). */
  threads?: number;
}

/** Spawns one worker process (`node --import tsx test/helpers/bullmq-worker.ts`). */
export function spawnWorker(spec: WorkerProcSpec): WorkerProc {
  const full = { lockMs: 4000, stalledIntervalMs: 1000, maxStalled: 2, ...spec };
  const proc = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/bullmq-worker.ts'], {
    env: { ...process.env, NASNET_TEST_WORKER: JSON.stringify(full), OMP_NUM_THREADS: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines: string[] = [];
  let buf = '';
  proc.stderr!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    lines.push(...parts);
    if (process.env.NASNET_TEST_VERBOSE) for (const l of parts) process.stderr.write(`[${spec.name}] ${l}\n`);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return { name: spec.name, proc, lines, exited };
}

/** Resolves when `pred` holds (checked every 50 ms), or rejects after `timeoutMs` with `what`. */
export async function waitFor(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!(await pred())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Kills a worker (SIGKILL by default) and waits for it to exit. */
export async function killWorker(w: WorkerProc, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill(signal);
  await w.exited;
}

/** Job ids a worker reported done (`worker NAME: done JOBID child ID ...`). */
export function doneJobs(w: WorkerProc): string[] {
  return w.lines.map((l) => / done (\S+) child /.exec(l)?.[1]).filter((x): x is string => x !== undefined);
}

/** Job ids a worker started. */
export function startedJobs(w: WorkerProc): string[] {
  return w.lines.map((l) => / start (\S+) child /.exec(l)?.[1]).filter((x): x is string => x !== undefined);
}
