import type { Command } from 'commander';
import { formatStatus, queueStatus } from '../search/status.js';

/** Registers `nasnet status --redis URL [--run ID]`. */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show a distributed search: live workers, queue depth, and for a run its children, children/hour and failures')
    .requiredOption('--redis <url>', 'Redis URL, e.g. redis://10.0.0.5:6379')
    .option('--queue <name>', 'queue name', 'nasnet')
    .option('--run <id>', 'run id (the run folder or its name)')
    .option('--json', 'print JSON instead of text')
    .action(async (o: { redis: string; queue: string; run?: string; json?: boolean }) => {
      const s = await queueStatus({ redis: o.redis, queue: o.queue, runId: o.run });
      process.stdout.write(o.json ? `${JSON.stringify(s, null, 2)}\n` : `${formatStatus(s)}\n`);
    });
}
