/**
 * Makes a search strategy by name, or rebuilds one from its saved state. The one module that knows
 * every implementation, so that the interface (strategy.ts) imports none of them.
 */
import { checkChoice } from '../util/check.js';
import { type EvolutionOptions, type EvolutionState, EvolutionStrategy } from './evolution.js';
import { type PolicyGradientOptions, type PolicyGradientState, PolicyGradientStrategy } from './policy-gradient.js';
import { type RandomSearchOptions, type RandomSearchState, RandomSearchStrategy } from './random-search.js';
import { type SearchStrategy, STRATEGY_NAMES, type StrategyName } from './strategy.js';

/** A strategy's complete state, by strategy: a plain, JSON-serializable object. */
export type StrategyState = PolicyGradientState | RandomSearchState | EvolutionState;

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
export function createStrategy<N extends StrategyName>(name: N, options?: StrategyOptionsByName[N]): SearchStrategy<StrategyState> {
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
export function restoreStrategy(state: StrategyState): SearchStrategy<StrategyState> {
  const name = checkChoice((state as { name?: unknown } | null)?.name, 'state.name', STRATEGY_NAMES, { where: 'restoreStrategy' });
  const s = createStrategy(name);
  s.load(state);
  return s;
}
