import type { Command } from 'commander';
import { BACKEND_CHOICES } from '../backends.js';
import { startWorker } from '../search/worker.js';
import { choiceArg, intArg } from '../util/check.js';

interface WorkerCli {
  redis: string;
  queue: string;
  concurrency: number;
  backend: string;
  data?: string;
  name?: string;
  threads?: number;
  lockMs: number;
  stalledIntervalMs: number;
  maxStalled: number;
}

/** Registers `nasnet worker --redis URL`. */
export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('train children of distributed searches: pull jobs from a BullMQ queue on Redis (one worker per machine or per GPU)')
    .requiredOption('--redis <url>', 'Redis URL, e.g. redis://10.0.0.5:6379')
    .option('--queue <name>', 'queue name (the search must use the same)', 'nasnet')
    .option('--concurrency <k>', 'children trained at once on this machine (cores are split)', intArg('--concurrency'), 1)
    .option('--backend <b>', 'cpu, cuda or auto', 'auto')
    .option('--data <dir>', "this machine's data folder (default: the search's folder if it exists here, else the cache)")
    .option('--threads <n>', 'threads per training process (default: the cores split between --concurrency children)', intArg('--threads'))
    .option('--name <name>', 'name shown by `nasnet status` (default <host>-<pid>)')
    .option('--lock-ms <ms>', "a child's lock: after this long without renewal another worker may retry it", intArg('--lock-ms'), 30_000)
    .option('--stalled-interval-ms <ms>', 'how often to look for children of dead workers', intArg('--stalled-interval-ms'), 15_000)
    .option('--max-stalled <k>', 'retries of a child whose worker died, before it is recorded as failed', intArg('--max-stalled'), 2)
    .action(async (o: WorkerCli) => {
      const worker = await startWorker({
        redis: o.redis,
        queue: o.queue,
        concurrency: o.concurrency,
        backend: choiceArg(o.backend, '--backend', BACKEND_CHOICES),
        dataDir: o.data,
        name: o.name,
        threadsPerChild: o.threads,
        lockMs: o.lockMs,
        stalledIntervalMs: o.stalledIntervalMs,
        maxStalled: o.maxStalled,
      });
      // SIGTERM (a scheduler, `kill`): give the children in progress back to the queue and stop
      // their training within a step. SIGINT (Ctrl-C): finish them first; a second signal gives back.
      await new Promise<void>((resolve) => {
        let finishing = false;
        const giveBack = (signal: string) => {
          const n = worker.stats().active;
          process.stderr.write(`worker ${worker.name}: ${signal}, giving ${n} child${n === 1 ? '' : 'ren'} in progress back to the queue (another worker trains ${n === 1 ? 'it' : 'them'} from the start)\n`);
          void worker.close(true).finally(resolve);
        };
        process.on('SIGTERM', () => giveBack('SIGTERM'));
        process.on('SIGINT', () => {
          if (finishing) return giveBack('SIGINT again');
          finishing = true;
          process.stderr.write(`worker ${worker.name}: SIGINT, finishing the children in progress (SIGINT again or SIGTERM to give them back now)\n`);
          void worker.close().finally(resolve);
        });
      });
    });
}
