/**
 * What the search loops (standalone, shared) are given, and the few things both do with a child:
 * make its job, check it against the constraints.
 */
import type { BackendChoice } from '../backends.js';
import type { Genotype } from '../cells/genotype-types.js';
import type { SearchStrategy } from '../controller/strategy.js';
import type { Dataset } from '../data/types.js';
import type { TimeBudget } from './budget.js';
import { childCounts } from './child.js';
import type { StoredConfig } from './config.js';
import type { ChildExecutor } from './executor.js';
import type { SearchRecorder } from './recorder.js';
import type { RunDir } from './run-dir.js';
import type { ChildJob, ProxyConfig } from './types.js';

/** Everything a search loop works with. */
export interface SearchContext {
  config: StoredConfig;
  run: RunDir;
  strategy: SearchStrategy;
  recorder: SearchRecorder;
  dataset: Dataset;
  executor: ChildExecutor;
  /** The call's wall-clock budget (`maxSeconds`): no unit of work starts that is not expected to end within it. */
  budget: TimeBudget;
  /** Progress lines (stderr), or null. */
  log: ((line: string) => void) | null;
  /** Where this call trains (not part of the stored configuration); undefined: NASNET_BACKEND, else 'cpu'. */
  backend?: BackendChoice;
}

/**
 * The job that trains a child standalone.
 * @param config - the search's configuration
 * @param id - the proposal id (its seed derives from it)
 * @param genotype - the child
 * @param hash - its canonical hash
 * @param proxy - the training budget; default the search's proxy
 */
export function childJob(config: StoredConfig, id: number, genotype: Genotype, hash: string, proxy: ProxyConfig = config.proxy): ChildJob {
  return { runId: config.runId, id, genotype, hash, seed: config.seed * 1_000_003 + id, dataset: config.dataset, dataDir: config.dataDir, proxy };
}

/**
 * Why a child is over the search's constraints (counted on its standalone proxy network), or undefined.
 * @returns the reason and the counts
 */
export function overConstraints(config: StoredConfig, job: ChildJob, dataset: Dataset): { why: string | undefined; params: number; multAdds: number } | undefined {
  const { maxParams, maxMultAdds } = config.constraints;
  if (maxParams === undefined && maxMultAdds === undefined) return undefined;
  const c = childCounts(job, dataset.info);
  const why =
    maxParams !== undefined && c.params > maxParams
      ? `params ${c.params} > maxParams ${maxParams}`
      : maxMultAdds !== undefined && c.multAdds > maxMultAdds
        ? `multAdds ${c.multAdds} > maxMultAdds ${maxMultAdds}`
        : undefined;
  return { why, params: c.params, multAdds: c.multAdds };
}
