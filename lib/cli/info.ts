import type { Command } from 'commander';
import { backends, formatBackends } from '../backends.js';

/** Registers `nasnet info [--json]`. */
export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('show the package and addon versions, CPU SIMD level and threads, CUDA devices and cuDNN')
    .option('--json', 'print JSON instead of text')
    .action((opts: { json?: boolean }) => {
      const report = backends();
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatBackends(report)}\n`);
    });
}
