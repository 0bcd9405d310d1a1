import { BACKEND_CHOICES, type BackendChoice } from '../backends.js';
import { countGraph } from '../cells/counts.js';
import { buildNetwork, type NetworkOptions } from '../cells/network.js';
import { resolveDataset } from '../data/registry.js';
import type { Dataset } from '../data/types.js';
import { train } from '../train/train.js';
import { checkChoice } from '../util/check.js';
import { childFailure } from './failure.js';
import type { ChildJob, ChildResult, ProxyConfig } from './types.js';

/** The network shape of a proxy child (classes, input size and channels come from the data set). */
function proxyNetwork(p: ProxyConfig): NetworkOptions {
  return { cellsPerStack: p.cellsPerStack, filters: p.filters, stemMultiplier: p.stemMultiplier, auxHead: p.auxHead };
}

const datasets = new Map<string, Promise<Dataset>>();

/** Resolves a data set once per process (children of a search share it). */
export function cachedDataset(spec: string, dataDir?: string): Promise<Dataset> {
  const key = `${spec}\u0000${dataDir ?? ''}`;
  let d = datasets.get(key);
  if (!d) {
    d = resolveDataset(spec, { dataDir });
    datasets.set(key, d);
    d.catch(() => datasets.delete(key));
  }
  return d;
}

/**
 * The backend children train on in this process: `NASNET_BACKEND` (set by `nasnet worker` and by
 * the local executor from the search's `proxy.backend`), default 'cpu'.
 * @throws ValidationError when NASNET_BACKEND is set to something else than cpu, cuda or auto
 */
export function childBackend(): BackendChoice {
  const b = process.env.NASNET_BACKEND;
  return b === undefined || b === '' ? 'cpu' : checkChoice(b, 'NASNET_BACKEND', BACKEND_CHOICES);
}

/**
 * Trains one child network on the proxy task and reports its validation accuracy curve. Never
 * throws for a child's own failure: a diverged child gets accuracy 0 and `diverged`, an exception
 * is returned as `error`.
 *
 * @param job - the child: genotype, seed, data set and proxy configuration
 * @param backend - where it trains; default {@link childBackend} (NASNET_BACKEND)
 */
export async function trainChild(job: ChildJob, backend?: BackendChoice): Promise<ChildResult> {
  const t0 = performance.now();
  try {
    const dataset = await cachedDataset(job.dataset, job.dataDir);
    const p = job.proxy;
    const r = await train({
      genotype: job.genotype,
      dataset,
      network: proxyNetwork(p),
      epochs: p.epochs,
      batchSize: p.batchSize,
      lr: p.lr,
      weightDecay: p.weightDecay,
      dropPathKeep: p.dropPathKeep,
      evalSplit: 'validation',
      maxBatchesPerEpoch: p.maxBatchesPerEpoch > 0 ? p.maxBatchesPerEpoch : undefined,
      maxEvalImages: p.maxValidationImages > 0 ? p.maxValidationImages : undefined,
      seed: job.seed,
      backend: backend ?? childBackend(),
    });
    return {
      accuracy: r.diverged ? 0 : r.accuracy,
      curve: r.epochs.map((e) => e.evalAccuracy),
      params: r.params,
      multAdds: r.multAdds,
      seconds: (performance.now() - t0) / 1000,
      diverged: r.diverged,
    };
  } catch (err) {
    return childFailure(err instanceof Error ? err.message : String(err), (performance.now() - t0) / 1000);
  }
}

/** Parameter and multiply-add counts of a child's proxy network (for constraints, before training). */
export function childCounts(job: Pick<ChildJob, 'genotype' | 'proxy'>, info: { classes: number; height: number; width: number; channels: number }) {
  const net = buildNetwork(job.genotype, {
    ...proxyNetwork(job.proxy),
    numClasses: info.classes,
    inputSize: [info.height, info.width],
    inputChannels: info.channels,
  });
  return countGraph(net.inference);
}
