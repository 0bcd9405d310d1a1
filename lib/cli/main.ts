import { Command, CommanderError } from 'commander';
import { registerInfo } from './info.js';

/** Builds the `nasnet` command line program (exported for tests). */
export function buildProgram(): Command {
  const program = new Command();
  program.name('nasnet').description('Neural architecture search (NASNet) for Node.js').showHelpAfterError();
  registerInfo(program);
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
