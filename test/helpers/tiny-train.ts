/** A NASNet-A run of train() that takes a few seconds on 2 cores: for tests of training's machinery. */
export const TINY_TRAIN = {
  dataset: 'fashion-mnist-mini',
  network: { cellsPerStack: 1, filters: 4, stemMultiplier: 2 },
  batchSize: 16,
  maxBatchesPerEpoch: 4,
  maxEvalImages: 48,
  seed: 11,
} as const;
