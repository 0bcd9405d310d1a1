import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { type Dashboard, type DashboardOptions, startDashboard } from '../dashboard/server.js';
import { ValidationError } from '../errors.js';
import { intArg } from '../util/check.js';

/** Options of `nasnet dashboard` that `nasnet search --dashboard` shares. */
export interface DashboardCli {
  port?: number;
  host: string;
  redis?: string;
  queue: string;
}

/** Whether this program has `nasnet transfer` (the child pages then offer its commands). */
function hasTransfer(program: Command): boolean {
  return program.commands.some((c) => c.name() === 'transfer');
}

/**
 * Starts a dashboard for the CLI: prints its URL (and a warning when it listens beyond this machine)
 * on stderr.
 */
export async function startCliDashboard(program: Command, options: Omit<DashboardOptions, 'transfer'>): Promise<Dashboard> {
  const dash = await startDashboard({ ...options, transfer: hasTransfer(program) });
  const n = dash.runs().length;
  process.stderr.write(`nasnet dashboard: ${dash.url} (${n} run${n === 1 ? '' : 's'}; read-only; Ctrl-C to stop)\n`);
  const host = options.host ?? '127.0.0.1';
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) {
    process.stderr.write(`nasnet dashboard: listening on ${host}: anyone who can reach this address can read these runs\n`);
  }
  return dash;
}

/** Resolves when the process gets SIGINT or SIGTERM (then closes `dash`). */
export function closeOnSignal(dash: Dashboard): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void dash.close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** Registers `nasnet dashboard [RUN_DIR...]`. */
export function registerDashboard(program: Command): void {
  program
    .command('dashboard')
    .description('a live web page of search runs: reward plots, Pareto views, a sortable children table, cell drawings, workers and queue')
    .argument('[runDir...]', 'run folders, or folders of run folders (default: runs/)')
    .option('--port <p>', 'port (default 6060, or the next free one; 0 = any free port)', intArg('--port'))
    .option('--host <addr>', 'address to listen on (default: this machine only)', '127.0.0.1')
    .option('--redis <url>', 'Redis of a distributed search: show its workers, their current children and the queue')
    .option('--queue <name>', 'BullMQ queue name (with --redis)', 'nasnet')
    .action(async (dirs: string[], o: DashboardCli) => {
      if (dirs.length === 0) {
        if (!existsSync('runs')) throw new ValidationError('dashboard: give a run folder (e.g. nasnet dashboard runs/ppo1), or run it where a runs/ folder is');
        dirs = ['runs'];
      }
      const dash = await startCliDashboard(program, { runs: dirs, port: o.port, host: o.host, redis: o.redis, queue: o.queue });
      await closeOnSignal(dash);
    });
}
