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
