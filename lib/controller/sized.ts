/**
 * Strategy sizes that fit a search's budget of children. The paper's sizes (a population of 64
 * with tournaments of 16; a PPO update per 20 children) assume thousands of children: a search of 20
 * or 60 children with them never leaves evolution's random initial population and takes one or no
 * controller update, i.e. it is random search. `searchCells` applies these sizes to every size option
 * the caller leaves unset; `createStrategy` alone keeps the paper's.
 *
 * - evolution: population P = ⌈children / 4⌉, within [4, 64], so that at least three quarters of the
 *   children are mutants; tournament S = ⌈P / 4⌉, at least 2 (the paper's ratio of 64 to 16, and
 *   Real et al.'s 100 to 25).
 * - PPO and REINFORCE: an update every ⌈children / 10⌉ children, within [5, 20], so that a search takes
 *   at least about ten updates (ENAS updates its controller every 10 children; 20 is the paper's, reached at
 *   200 children).
 */
import { NASNET_CONTROLLER } from './paper.js';
import type { StrategyName } from './strategy.js';

/** The bounds of the sizes, written once. */
export const SIZED_BOUNDS = Object.freeze({
  /** Evolution's population: children per member, and its bounds. */
  childrenPerMember: 4,
  minPopulation: 4,
  maxPopulation: 64,
  /** Population per tournament member (64 / 16 in the paper). */
  populationPerSample: 4,
  minSample: 2,
  /** Policy gradients: the updates a search should take, and the bounds of children per update. */
  updates: 10,
  minUpdateEvery: 5,
  maxUpdateEvery: NASNET_CONTROLLER.updateEvery,
});

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/**
 * The size options of a strategy for a search of `children` children (see the module comment).
 * Random search has none.
 * @param name - the strategy
 * @param children - children the search evaluates in all (a positive integer)
 * @param given - the caller's options: a `populationSize` given there sizes the tournament
 * @returns `{ populationSize, sampleSize }` (evolution), `{ updateEvery }` (PPO, REINFORCE) or `{}`
 * @example
 * sizedStrategyOptions('evolution', 40); // { populationSize: 10, sampleSize: 3 }
 * sizedStrategyOptions('ppo', 40);       // { updateEvery: 5 }
 * sizedStrategyOptions('ppo', 1000);     // { updateEvery: 20 } (the paper's)
 */
export function sizedStrategyOptions(name: StrategyName, children: number, given: Record<string, unknown> = {}): Record<string, number> {
  const b = SIZED_BOUNDS;
  switch (name) {
    case 'evolution': {
      const population = typeof given.populationSize === 'number' ? given.populationSize : clamp(Math.ceil(children / b.childrenPerMember), b.minPopulation, b.maxPopulation);
      const populationSize = Math.max(2, population);
      return { populationSize, sampleSize: Math.max(b.minSample, Math.ceil(populationSize / b.populationPerSample)) };
    }
    case 'ppo':
    case 'reinforce':
      return { updateEvery: clamp(Math.ceil(children / b.updates), b.minUpdateEvery, b.maxUpdateEvery) };
    default:
      return {};
  }
}
