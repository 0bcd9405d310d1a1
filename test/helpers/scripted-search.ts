/**
 * A search with a scripted executor, for the run-folder tests: instant children whose accuracy
 * depends on the id only, and a run folder stopped after 4 of its 6 children as a kill leaves it.
 */
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildExecutor } from '../../lib/search/executor.js';
import { searchCells } from '../../lib/search/search.js';
import type { ChildResult } from '../../lib/search/types.js';

/** A scripted executor: from child `stopAt` on, the run stops as a kill would. */
export const scriptedExecutor = (stopAt = Infinity): ChildExecutor => ({
  concurrency: 1,
  async submit(job): Promise<ChildResult> {
    await new Promise((r) => setTimeout(r, 1));
    if (job.id >= stopAt) throw new Error('killed');
    return { accuracy: ((job.id * 37) % 100) / 100, curve: [0.5], params: 10, multAdds: 100, seconds: 0.01, diverged: false };
  },
  async close() {},
});

/** A search of 6 children (config.json keeps that number; resuming continues to it). */
export const scriptedSearch = (runDir: string, resume: boolean, stopAt?: number) =>
  searchCells({ runDir, resume, children: 6, strategy: 'random', blocks: 2, seed: 3, executor: { kind: 'custom', executor: scriptedExecutor(stopAt) } });

/** Writes a run folder stopped after 4 of its 6 children (child 4 pending) at `dir`; returns a copier. */
export async function stoppedRun(dir: string): Promise<(name: string) => string> {
  await scriptedSearch(dir, false, 4).then(
    () => {
      throw new Error('the scripted search was meant to stop at child 4');
    },
    (err: Error) => {
      if (err.message !== 'killed') throw err;
    },
  );
  return (name: string) => {
    const copy = join(dir, '..', name);
    rmSync(copy, { recursive: true, force: true });
    cpSync(dir, copy, { recursive: true });
    return copy;
  };
}
