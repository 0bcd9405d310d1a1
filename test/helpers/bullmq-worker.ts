/**
 * A `nasnet worker` in its own process, for the BullMQ tests:
 *   NASNET_TEST_WORKER='{"mode":"real"|"scripted",...}' node --import tsx test/helpers/bullmq-worker.ts
 * 'real' runs the CLI (`nasnet worker`, the real trainer); 'scripted' trains with a scripted
 * trainer (sleeps `childMs`, deterministic accuracy; SIGKILLs its own process on child `dieOnChild`).
 */
import { main } from '../../lib/cli/main.js';
import type { ChildJob, ChildResult } from '../../lib/search/types.js';
import { startWorker } from '../../lib/search/worker.js';

interface Spec {
  mode: 'real' | 'scripted';
  redis: string;
  queue: string;
  name: string;
  childMs?: number;
  dieOnChild?: number;
  lockMs: number;
  stalledIntervalMs: number;
  maxStalled: number;
  threads?: number;
}

const spec = JSON.parse(process.env.NASNET_TEST_WORKER ?? '{}') as Spec;

if (spec.mode === 'real') {
  await main([
    process.execPath,
    'nasnet',
    'worker',
    '--redis',
    spec.redis,
    '--queue',
    spec.queue,
    '--name',
    spec.name,
    '--backend',
    'cpu',
    '--lock-ms',
    String(spec.lockMs),
    '--stalled-interval-ms',
    String(spec.stalledIntervalMs),
    '--max-stalled',
    String(spec.maxStalled),
    ...(spec.threads ? ['--threads', String(spec.threads)] : []),
  ]);
} else {
  const trainer = async (job: ChildJob): Promise<ChildResult> => {
    if (job.id === spec.dieOnChild) process.kill(process.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, spec.childMs ?? 200));
    const accuracy = (Number.parseInt(job.hash.slice(0, 4), 16) % 1000) / 1000;
    return { accuracy, curve: [accuracy], params: 100 + job.id, multAdds: 1000, seconds: (spec.childMs ?? 200) / 1000, diverged: false };
  };
  const w = await startWorker({
    redis: spec.redis,
    queue: spec.queue,
    name: spec.name,
    backend: 'cpu',
    trainer,
    lockMs: spec.lockMs,
    stalledIntervalMs: spec.stalledIntervalMs,
    maxStalled: spec.maxStalled,
    heartbeatMs: 500,
  });
  const stop = () => void w.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
