import type { SharedOptions } from '../../lib/search/config.js';
import type { ProxyConfig } from '../../lib/search/types.js';

/** A child that trains in about a second on 2 cores: for tests of the search machinery. */
export const TINY_PROXY: Partial<ProxyConfig> = {
  cellsPerStack: 1,
  filters: 4,
  stemMultiplier: 2,
  epochs: 1,
  batchSize: 16,
  maxBatchesPerEpoch: 3,
  maxValidationImages: 64,
  lr: 0.05,
};

/** A weight-sharing search that runs in seconds: 3 rounds of 5 steps and 4 scored children. */
export const TINY_SHARED: SharedOptions = {
  stepsPerRound: 5,
  childrenPerRound: 4,
  scoreImages: 32,
  candidates: 3,
  finalScoreImages: 64,
  retrainTop: 2,
  checkpointEvery: 3,
};
