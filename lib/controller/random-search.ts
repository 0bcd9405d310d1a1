/**
 * Random search: every decision uniform over its valid choices (the same space and input
 * restrictions as the controller's). The baseline every other strategy must beat.
 */
import type { Genotype } from '../cells/genotype-types.js';
import { DEFAULT_BLOCKS } from '../cells/space.js';
import { checkInteger } from '../util/check.js';
import { Rng, type RngState } from '../util/rng.js';
import { decisionsToGenotype, randomDecisions } from './decisions.js';
import { type PendingEntry, takePending } from './pending.js';
import { checkRecords, checkStateHeader } from './state-check.js';
import type { Observation, Proposal, SearchStrategy } from './strategy.js';

/** Options of random search. */
export interface RandomSearchOptions {
  /** Seed; default 0. */
  seed?: number;
  /** Blocks per cell B; default 5. */
  blocks?: number;
}

/** Resolved options of random search. */
export interface RandomSearchConfig {
  seed: number;
  blocks: number;
}

/** Saved state of random search. */
export interface RandomSearchState {
  name: 'random';
  version: 1;
  config: RandomSearchConfig;
  nextId: number;
  rng: RngState;
  pending: PendingEntry[];
  observed: number;
}

/**
 * Uniform random search.
 * @example
 * const s = new RandomSearchStrategy({ seed: 3 });
 * s.propose(4).length; // 4
 */
export class RandomSearchStrategy implements SearchStrategy<RandomSearchState> {
  readonly name = 'random' as const;
  private config: RandomSearchConfig;
  private rng: Rng;
  private nextId = 0;
  private observed = 0;
  private pending = new Map<number, PendingEntry>();

  /**
   * @param options - {@link RandomSearchOptions}.
   */
  constructor(options: RandomSearchOptions = {}) {
    this.config = {
      seed: checkInteger(options.seed ?? 0, 'seed', { min: Number.MIN_SAFE_INTEGER, where: 'random' }),
      blocks: checkInteger(options.blocks ?? DEFAULT_BLOCKS, 'blocks', { where: 'random' }),
    };
    this.rng = new Rng(this.config.seed);
  }

  /** Children observed so far. */
  get observedCount(): number {
    return this.observed;
  }

  /**
   * @param k - number of children, a positive integer.
   */
  propose(k: number): Proposal[] {
    checkInteger(k, 'k', { where: 'random.propose' });
    const out: Proposal[] = [];
    for (let i = 0; i < k; i++) {
      const decisions = randomDecisions(this.rng, this.config.blocks);
      const id = this.nextId++;
      this.pending.set(id, { id, decisions });
      out.push({ id, genotype: decisionsToGenotype(decisions, this.config.blocks), meta: { decisions } });
    }
    return out;
  }

  /**
   * Uniform children, not made pending (see {@link SearchStrategy.sample}).
   * @param k - number of children, a positive integer.
   */
  sample(k: number): Genotype[] {
    checkInteger(k, 'k', { where: 'random.sample' });
    return Array.from({ length: k }, () => decisionsToGenotype(randomDecisions(this.rng, this.config.blocks), this.config.blocks));
  }

  /**
   * @param results - observations of pending proposals (rewards are not used).
   */
  observe(results: Observation[]): void {
    this.observed += takePending('random', this.pending, results, this.config.blocks).length;
  }

  state(): RandomSearchState {
    return {
      name: 'random',
      version: 1,
      config: { ...this.config },
      nextId: this.nextId,
      rng: this.rng.state(),
      pending: [...this.pending.values()].map((e) => ({ id: e.id, decisions: [...e.decisions] })),
      observed: this.observed,
    };
  }

  /**
   * @param state - from {@link RandomSearchStrategy.state}.
   */
  load(state: RandomSearchState): void {
    const counters = checkStateHeader('random.load', state, 'random', 1);
    const config: RandomSearchConfig = {
      seed: checkInteger(state.config.seed, 'config.seed', { min: Number.MIN_SAFE_INTEGER, where: 'random.load' }),
      blocks: checkInteger(state.config.blocks, 'config.blocks', { where: 'random.load' }),
    };
    checkRecords('random.load', 'pending', state.pending, config.blocks, []);
    this.config = config;
    ({ rng: this.rng, nextId: this.nextId, observed: this.observed } = counters);
    this.pending = new Map(state.pending.map((e) => [e.id, { id: e.id, decisions: [...e.decisions] }]));
  }
}
