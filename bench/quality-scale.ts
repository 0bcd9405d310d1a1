/**
 * The proxy and the evaluation scale of the search-quality measurements, in one place:
 * `bench/search-quality.ts` searches with {@link qualityProxy} and evaluates every run's best cell with
 * {@link trainAtEvalScale}; `bench/proxy-rank.ts` asks how well proxies like it rank cells by that
 * evaluation.
 */
import type { Genotype } from '../lib/cells/genotype-types.js';
import type { Dataset } from '../lib/data/types.js';
import { PAPER_PROXY } from '../lib/search/config.js';
import type { ProxyConfig } from '../lib/search/types.js';
import { train } from '../lib/train/train.js';

/** The proxy child every search of the measurement trains (and the shared mode's network): N = 1, F = 8, 100 batches of 32 (quick: 30). */
export function qualityProxy(quick: boolean): ProxyConfig {
  return { ...PAPER_PROXY, cellsPerStack: 1, filters: 8, stemMultiplier: 3, epochs: 1, batchSize: 32, lr: 0.05, maxBatchesPerEpoch: quick ? 30 : 100, maxValidationImages: quick ? 500 : 1000 };
}

/** The evaluation scale and schedule, the same for every cell. */
export interface EvalScale {
  cellsPerStack: number;
  filters: number;
  batchSize: number;
  batches: number;
  lr: number;
  testImages: number;
}

/** 1@288 (F = 12), 200 batches of 64, lr 0.05 (cosine), all 10,000 test images; quick: 1@192, 60 batches of 32, 1,000 images. */
export function qualityEval(quick: boolean): EvalScale {
  return quick
    ? { cellsPerStack: 1, filters: 8, batchSize: 32, batches: 60, lr: 0.05, testImages: 1000 }
    : { cellsPerStack: 1, filters: 12, batchSize: 64, batches: 200, lr: 0.05, testImages: 10000 };
}

/** Trains a cell at an evaluation scale from initialization `seed`: its test accuracy (0 when it diverged), seconds and parameters. */
export async function trainAtEvalScale(ds: Dataset, genotype: Genotype, scale: EvalScale, seed = 0): Promise<{ accuracy: number; seconds: number; params: number }> {
  const t0 = performance.now();
  const r = await train({
    genotype,
    dataset: ds,
    network: { cellsPerStack: scale.cellsPerStack, filters: scale.filters, stemMultiplier: 3, auxHead: false },
    epochs: 1,
    batchSize: scale.batchSize,
    maxBatchesPerEpoch: scale.batches,
    lr: scale.lr,
    dropPathKeep: 1,
    evalSplit: 'test',
    maxEvalImages: scale.testImages,
    seed,
  });
  return { accuracy: r.diverged ? 0 : r.accuracy, seconds: (performance.now() - t0) / 1000, params: r.params };
}
