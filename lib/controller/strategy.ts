/**
 * The interface every search strategy implements (the NASNet PPO controller, REINFORCE, random
 * search and regularized evolution); the search loop only sees {@link SearchStrategy}.
 * `createStrategy` (create-strategy.ts) makes one by name.
 */
import type { Genotype } from '../cells/genotype-types.js';
import type { RngState } from '../util/rng.js';

/** The strategies `createStrategy` knows. */
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

/**
 * The fields every strategy's saved state has: a plain, JSON-serializable object. Each strategy's
 * own state type adds the rest (weights, optimizer, population; see `StrategyState`).
 */
export interface SavedStrategyState {
  name: StrategyName;
  version: number;
  /** The resolved options (hyperparameters), so that a state alone rebuilds its strategy. */
  config: object;
  /** The next proposal id. */
  nextId: number;
  rng: RngState;
  /** Proposals handed out and not yet observed. */
  pending: { id: number; decisions: number[] }[];
  /** Children observed so far. */
  observed: number;
}

/**
 * A search strategy: proposes children, learns from their rewards.
 * @typeParam S - its saved state's type (`createStrategy` returns the union of every strategy's).
 */
export interface SearchStrategy<S extends SavedStrategyState = SavedStrategyState> {
  readonly name: StrategyName;
  /**
   * The next `k` children to evaluate. May be called while earlier proposals are pending.
   * @param k - a positive integer.
   */
  propose(k: number): Proposal[];
  /**
   * `k` children drawn from the current policy without handing them out: nothing becomes pending,
   * none may be observed. The weight-sharing search trains its shared weights on such children
   * (ENAS: each minibatch on a child sampled from the current policy). Draws from the strategy's
   * random state, so {@link SearchStrategy.state} captures it. Optional for your own strategies; the
   * built-in ones have it.
   * @param k - a positive integer.
   */
  sample?(k: number): Genotype[];
  /**
   * Rewards of finished children, in any order and any grouping; each pending id exactly once.
   * @param results - observations of pending proposals.
   */
  observe(results: Observation[]): void;
  /** Everything needed to resume exactly (weights, optimizer, RNG, pending proposals, hyperparameters). */
  state(): S;
  /**
   * Replace this strategy's whole state (hyperparameters included) by a saved one.
   * @param state - from {@link SearchStrategy.state} of a strategy of the same name.
   */
  load(state: S): void;
}

