/**
 * Search strategies behind one interface: the NASNet PPO controller, REINFORCE, random search and
 * regularized (aging) evolution. The search loop only sees {@link SearchStrategy}.
 */
import type { Genotype } from '../cells/genotype-types.js';
import { checkChoice } from '../util/check.js';
import { type EvolutionOptions, type EvolutionState, EvolutionStrategy } from './evolution.js';
import {
  type PolicyGradientOptions,
  type PolicyGradientState,
  PolicyGradientStrategy,
} from './policy-gradient.js';
import { type RandomSearchOptions, type RandomSearchState, RandomSearchStrategy } from './random-search.js';

/** The strategies {@link createStrategy} knows. */
export const STRATEGY_NAMES = ['ppo', 'reinforce', 'random', 'evolution'] as const;

/** A strategy's name. */
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** A child to evaluate. */
export interface Proposal {
  /** Unique within a strategy's life (across save and load). */
  id: number;
  genotype: Genotype;
  /** Strategy-private data for logs (decisions, log-prob, parent id); JSON-serializable. */
  meta?: unknown;
}

/** The reward of an evaluated child. */
export interface Observation {
  /** The {@link Proposal.id}. */
  id: number;
  /** The proposal's genotype (checked against the proposal). */
  genotype: Genotype;
  /** E.g. validation accuracy; any finite number, higher is better. */
  reward: number;
  meta?: unknown;
}

/** A strategy's complete state: a plain, JSON-serializable object. */
export type StrategyState = PolicyGradientState | RandomSearchState | EvolutionState;

/** A search strategy: proposes children, learns from their rewards. */
export interface SearchStrategy {
  readonly name: StrategyName;
  /**
   * The next `k` children to evaluate. May be called while earlier proposals are pending.
   * @param k - a positive integer.
   */
  propose(k: number): Proposal[];
  /**
   * Rewards of finished children, in any order and any grouping; each pending id exactly once.
   * @param results - observations of pending proposals.
   */
  observe(results: Observation[]): void;
  /** Everything needed to resume exactly (weights, optimizer, RNG, pending proposals, hyperparameters). */
  state(): StrategyState;
  /**
   * Replace this strategy's whole state (hyperparameters included) by a saved one.
   * @param state - from {@link SearchStrategy.state} of a strategy of the same name.
   */
  load(state: StrategyState): void;
}

/** Options of each strategy, by name. */
export interface StrategyOptionsByName {
  ppo: PolicyGradientOptions;
  reinforce: PolicyGradientOptions;
  random: RandomSearchOptions;
  evolution: EvolutionOptions;
}

/**
 * Make a search strategy.
 * @param name - 'ppo' (the paper's), 'reinforce', 'random' or 'evolution'.
 * @param options - that strategy's options (seed, blocks, hyperparameters); all have defaults.
 * @example
 * const s = createStrategy('ppo', { seed: 1 });
 * const [p] = s.propose(1);
 * s.observe([{ id: p.id, genotype: p.genotype, reward: 0.91 }]);
 * fs.writeFileSync('controller.json', JSON.stringify(s.state()));
 */
export function createStrategy<N extends StrategyName>(name: N, options?: StrategyOptionsByName[N]): SearchStrategy {
  const checked = checkChoice(name, 'name', STRATEGY_NAMES, { where: 'createStrategy' });
  switch (checked) {
    case 'ppo':
    case 'reinforce':
      return new PolicyGradientStrategy(checked, (options ?? {}) as PolicyGradientOptions);
    case 'random':
      return new RandomSearchStrategy((options ?? {}) as RandomSearchOptions);
    case 'evolution':
      return new EvolutionStrategy((options ?? {}) as EvolutionOptions);
  }
}

/**
 * Rebuild a strategy from a saved state alone (its hyperparameters travel in the state).
 * @param state - from {@link SearchStrategy.state}, possibly through JSON.
 * @example const s = restoreStrategy(JSON.parse(fs.readFileSync('controller.json', 'utf8')));
 */
export function restoreStrategy(state: StrategyState): SearchStrategy {
  const name = checkChoice((state as { name?: unknown } | null)?.name, 'state.name', STRATEGY_NAMES, { where: 'restoreStrategy' });
  const s = createStrategy(name);
  s.load(state);
  return s;
}
