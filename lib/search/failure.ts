/** The one record of a child that could not be trained, wherever it failed (in training, in a worker process, in the queue). */
import type { ChildResult } from './types.js';

/**
 * The result of a child that could not be trained: accuracy 0 (its reward), no curve, the reason.
 * @param error - why, e.g. `worker process 123 exited (SIGKILL) while training child 4`
 * @param seconds - time spent before it failed; default 0
 * @example childFailure('out of memory', 12.5) // { accuracy: 0, curve: [], ..., error: 'out of memory' }
 */
export function childFailure(error: string, seconds = 0): ChildResult {
  return { accuracy: 0, curve: [], params: 0, multAdds: 0, seconds, diverged: false, error };
}
