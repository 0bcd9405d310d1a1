/**
 * A bench's `--threads` sets the other engine's threads (PyTorch's `set_num_threads`, ONNX Runtime's
 * intra-op pool); ours come from OpenMP (`OMP_NUM_THREADS`, read when the addon loads; default: every
 * core). A side-by-side where the two differ would print one count for both, so it is refused.
 */
import { backends } from '../lib/backends.js';

/**
 * Throws unless our engine runs `threads` CPU threads.
 *
 * @example
 * checkEngineThreads(2); // OMP_NUM_THREADS=1 on the command line: throws, naming the fix
 */
export function checkEngineThreads(threads: number): void {
  const ours = backends().cpu.threads;
  if (ours !== threads)
    throw new Error(
      `--threads ${threads}: our engine runs ${ours} CPU thread${ours === 1 ? '' : 's'} here (OMP_NUM_THREADS, default every core); ` +
        `run with OMP_NUM_THREADS=${threads} to compare both at ${threads}`,
    );
}
