import { Command, CommanderError } from 'commander';
import { registerCount } from './count.js';
import { registerDashboard } from './dashboard.js';
import { registerDraw } from './draw.js';
import { registerExport } from './export.js';
import { registerInfo } from './info.js';
import { registerSearch } from './search.js';
import { registerStatus } from './status.js';
import { registerTrain } from './train.js';
import { registerTransfer } from './transfer.js';
import { registerWorker } from './worker.js';

/** Builds the `nasnet` command line program (exported for tests). */
export function buildProgram(): Command {
  const program = new Command();
  program.name('nasnet').description('Neural architecture search (NASNet) for Node.js').showHelpAfterError();
  registerSearch(program);
  registerTrain(program);
  registerTransfer(program);
  registerCount(program);
  registerDraw(program);
  registerExport(program);
  registerInfo(program);
  registerWorker(program);
  registerStatus(program);
  registerDashboard(program);
  return program;
}

/**
 * Runs the CLI. Errors print one line (`nasnet: message`) and set a non-zero exit code.
 *
 * @param argv - process.argv-style arguments
 */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`nasnet: ${message}\n`);
    process.exitCode = 1;
  }
}
