import type { Genotype } from '../cells/genotype-types.js';

/** How each child is trained (the paper's proxy: N = 2, 20 epochs, cosine LR, 45k/5k split). */
export interface ProxyConfig {
  /** N: normal cells per stack; default 2. */
  cellsPerStack: number;
  /** F: filters of the first stack; default 32 (penultimate 768). */
  filters: number;
  /** Stem multiplier; default 3. */
  stemMultiplier: number;
  /** Epochs; default 20. */
  epochs: number;
  /** Batch size; default 32. */
  batchSize: number;
  /** Initial learning rate (cosine decay); default 0.025. */
  lr: number;
  /** Weight decay; default 5e-4. */
  weightDecay: number;
  /** ScheduledDropPath final keep probability; default 1 (off, as in the search). */
  dropPathKeep: number;
  /** Auxiliary head; default false for proxies. */
  auxHead: boolean;
  /** At most this many training batches per epoch; 0 = all. */
  maxBatchesPerEpoch: number;
  /** Validate on at most this many images; 0 = all. */
  maxValidationImages: number;
}

/** One child to train: everything a worker on another machine needs. */
export interface ChildJob {
  runId: string;
  /** The strategy's proposal id. */
  id: number;
  genotype: Genotype;
  /** Canonical hash of the genotype. */
  hash: string;
  /** Seed of the child's initialization and data order. */
  seed: number;
  dataset: string;
  dataDir?: string;
  proxy: ProxyConfig;
}

/** What training a child produced. */
export interface ChildResult {
  /** Final validation accuracy (0 when the child diverged or failed). */
  accuracy: number;
  /** Validation accuracy after each epoch. */
  curve: number[];
  params: number;
  multAdds: number;
  seconds: number;
  diverged: boolean;
  /** Set when the child could not be trained; the message says why. */
  error?: string;
  /** Who trained it: the BullMQ worker's name, or `local:<pid>` for a local worker process. Not part of a worker's reply. */
  worker?: string;
}

/** One line of history.jsonl: a finished child. */
export interface HistoryEntry extends ChildResult {
  id: number;
  /** Position in the order children finished (0-based). */
  index: number;
  genotype: Genotype;
  hash: string;
  reward: number;
  /** The earlier child with the same canonical genotype, whose result was reused. */
  duplicateOf?: number;
  /** Why the child was not trained (a constraint), if so. */
  rejected?: string;
  strategy: string;
  /** ISO time it finished. */
  finishedAt: string;
  /** What the reward measures: the child trained by itself ('standalone', the default) or the shared weights of a weight-sharing search on a validation batch ('shared'). */
  scoredBy?: 'standalone' | 'shared';
  /** Successive halving: the highest rung the child reached (its reward is its accuracy there). */
  rung?: number;
  /** Successive halving: the child's accuracy at each rung it trained, lowest first. */
  rungAccuracies?: number[];
  /** Shared mode: the round whose shared weights scored the child. */
  round?: number;
  /** Shared mode, children retrained standalone at the end: their score on the final shared weights. */
  sharedScore?: number;
}
