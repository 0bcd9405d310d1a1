/**
 * The search controller: the NASNet LSTM policy and the search strategies (PPO, REINFORCE, random
 * search, regularized evolution) behind one interface.
 */
export { Adam, type AdamOptions, type AdamState } from './adam.js';
export { EmaBaseline } from './baseline.js';
export { createStrategy, restoreStrategy, type StrategyOptionsByName, type StrategyState } from './create-strategy.js';
export {
  CELL_TYPES,
  checkDecisions,
  DECISIONS_PER_BLOCK,
  type DecisionKind,
  type DecisionStep,
  decisionSteps,
  decisionsToGenotype,
  genotypeToDecisions,
  randomDecisions,
} from './decisions.js';
export {
  type EvolutionConfig,
  type EvolutionMember,
  type EvolutionOptions,
  type EvolutionPending,
  type EvolutionState,
  EvolutionStrategy,
  type MutationKind,
  mutateDecisions,
} from './evolution.js';
export {
  type ControllerSample,
  LstmController,
  type LstmControllerConfig,
  type LstmControllerOptions,
  type ObjectiveTerm,
  type ParameterSlice,
  resolveControllerOptions,
} from './lstm-controller.js';
export { ENAS_CONTROLLER, NASNET_CONTROLLER } from './paper.js';
export {
  type PolicyGradientBuffered,
  type PolicyGradientConfig,
  type PolicyGradientOptions,
  type PolicyGradientPending,
  type PolicyGradientState,
  PolicyGradientStrategy,
  type PolicyGradientUpdateInfo,
} from './policy-gradient.js';
export { type RandomSearchConfig, type RandomSearchOptions, type RandomSearchState, RandomSearchStrategy } from './random-search.js';
export { SIZED_BOUNDS, sizedStrategyOptions } from './sized.js';
export {
  type Observation,
  type Proposal,
  type SavedStrategyState,
  type SearchStrategy,
  STRATEGY_NAMES,
  type StrategyName,
} from './strategy.js';
