/**
 * Regularized (aging) evolution (Real et al., AAAI 2019): a population of P architectures; each child
 * is a mutation of the best of S members drawn at random; when a child's reward arrives it joins the
 * population and the oldest member dies. Until the population holds P members, children are random.
 */
import type { Genotype } from '../cells/genotype-types.js';
import { CELL_INPUTS, COMBINE_METHODS, DEFAULT_BLOCKS, PRIMITIVES } from '../cells/space.js';
import { ValidationError } from '../errors.js';
import { checkInteger, invalid, received } from '../util/check.js';
import { Rng, type RngState } from '../util/rng.js';
import { DECISIONS_PER_BLOCK, decisionsToGenotype, randomDecisions } from './decisions.js';
import { type PendingEntry, takePending } from './pending.js';
import { checkRecords, checkStateHeader } from './state-check.js';
import type { Observation, Proposal, SearchStrategy } from './strategy.js';

/** What a mutation may change in one block. */
export type MutationKind = 'input' | 'op' | 'combine';

/** Options of regularized evolution. */
export interface EvolutionOptions {
  /** Seed; default 0. */
  seed?: number;
  /** Blocks per cell B; default 5. */
  blocks?: number;
  /** Population size P; default 64. */
  populationSize?: number;
  /** Tournament sample size S (drawn with replacement); default 16. */
  sampleSize?: number;
  /**
   * What mutations may change: a hidden-state input, an op, and optionally the combine method.
   * Default ['input', 'op'] (the paper's hidden-state and op mutations).
   */
  mutations?: MutationKind[];
}

/** Resolved options of regularized evolution. */
export interface EvolutionConfig {
  seed: number;
  blocks: number;
  populationSize: number;
  sampleSize: number;
  mutations: MutationKind[];
}

/** A pending child: its decisions and the id of its parent (null for a random child). */
export interface EvolutionPending extends PendingEntry {
  parent: number | null;
}

/** A population member. */
export interface EvolutionMember {
  id: number;
  decisions: number[];
  reward: number;
}

/** Saved state of regularized evolution. */
export interface EvolutionState {
  name: 'evolution';
  version: 1;
  config: EvolutionConfig;
  nextId: number;
  rng: RngState;
  pending: EvolutionPending[];
  /** Oldest first. */
  population: EvolutionMember[];
  observed: number;
}

const MUTATION_KINDS: readonly MutationKind[] = ['input', 'op', 'combine'];

function resolveConfig(where: string, o: EvolutionOptions): EvolutionConfig {
  const mutations = o.mutations ?? ['input', 'op'];
  if (
    !Array.isArray(mutations) ||
    mutations.length === 0 ||
    mutations.some((m) => !MUTATION_KINDS.includes(m)) ||
    new Set(mutations).size !== mutations.length
  ) {
    throw invalid('mutations', "a non-empty list of distinct 'input', 'op', 'combine'", received(mutations), where);
  }
  return {
    seed: checkInteger(o.seed ?? 0, 'seed', { min: Number.MIN_SAFE_INTEGER, where }),
    blocks: checkInteger(o.blocks ?? DEFAULT_BLOCKS, 'blocks', { where }),
    populationSize: checkInteger(o.populationSize ?? 64, 'populationSize', { min: 2, where }),
    sampleSize: checkInteger(o.sampleSize ?? 16, 'sampleSize', { where }),
    mutations: [...mutations],
  };
}

/**
 * Mutate one block of one randomly chosen cell: one input (hidden-state mutation), one op (op
 * mutation) or, when allowed, the combine method. The result always differs from the parent.
 * @param parent - 10 · B decisions (not modified).
 * @param rng - the random source.
 * @param blocks - blocks per cell B.
 * @param kinds - the allowed mutation kinds; default ['input', 'op'].
 * @returns a new decision sequence differing from `parent` in exactly one position.
 * @example const child = mutateDecisions(parent, new Rng(1), 5);
 */
export function mutateDecisions(
  parent: readonly number[],
  rng: Rng,
  blocks: number,
  kinds: readonly MutationKind[] = ['input', 'op'],
): number[] {
  const child = [...parent];
  const cell = rng.int(2);
  const block = rng.int(blocks);
  const kind = kinds[rng.int(kinds.length)];
  const base = (cell * blocks + block) * DECISIONS_PER_BLOCK;
  let pos: number;
  let choices: number;
  if (kind === 'combine') {
    pos = base + 4;
    choices = COMBINE_METHODS.length;
  } else {
    const side = rng.int(2);
    pos = base + (kind === 'input' ? side : 2 + side);
    choices = kind === 'input' ? CELL_INPUTS + block : PRIMITIVES.length;
  }
  // A uniform choice among the others: draw from choices - 1 and skip the current one.
  let v = rng.int(choices - 1);
  if (v >= child[pos]) v++;
  child[pos] = v;
  return child;
}

/**
 * Regularized (aging) evolution.
 * @example
 * const s = new EvolutionStrategy({ populationSize: 64, sampleSize: 16, seed: 1 });
 */
export class EvolutionStrategy implements SearchStrategy<EvolutionState> {
  readonly name = 'evolution' as const;
  private config: EvolutionConfig;
  private rng: Rng;
  private nextId = 0;
  private observed = 0;
  private pending = new Map<number, EvolutionPending>();
  private population: EvolutionMember[] = [];

  /**
   * @param options - {@link EvolutionOptions}.
   */
  constructor(options: EvolutionOptions = {}) {
    this.config = resolveConfig('evolution', options);
    this.rng = new Rng(this.config.seed);
  }

  /** The current population, oldest first (copies). */
  get members(): EvolutionMember[] {
    return this.population.map((m) => ({ ...m, decisions: [...m.decisions] }));
  }

  /**
   * Random children until the population is full, then mutated tournament winners.
   * @param k - number of children, a positive integer.
   */
  propose(k: number): Proposal[] {
    checkInteger(k, 'k', { where: 'evolution.propose' });
    const out: Proposal[] = [];
    for (let i = 0; i < k; i++) {
      const { decisions, parent } = this.draw();
      const id = this.nextId++;
      this.pending.set(id, { id, decisions, parent });
      out.push({ id, genotype: decisionsToGenotype(decisions, this.config.blocks), meta: { decisions, parent } });
    }
    return out;
  }

  /**
   * Children drawn as {@link EvolutionStrategy.propose} draws them (random while the population
   * fills, then mutated tournament winners), not made pending (see {@link SearchStrategy.sample}).
   * @param k - number of children, a positive integer.
   */
  sample(k: number): Genotype[] {
    checkInteger(k, 'k', { where: 'evolution.sample' });
    return Array.from({ length: k }, () => decisionsToGenotype(this.draw().decisions, this.config.blocks));
  }

  /** One child's decisions: random while the population fills, else a mutated tournament winner. */
  private draw(): { decisions: number[]; parent: number | null } {
    const { blocks, populationSize, sampleSize, mutations } = this.config;
    if (this.population.length < populationSize) return { decisions: randomDecisions(this.rng, blocks), parent: null };
    let best = this.population[this.rng.int(this.population.length)];
    for (let s = 1; s < sampleSize; s++) {
      const m = this.population[this.rng.int(this.population.length)];
      if (m.reward > best.reward) best = m;
    }
    return { decisions: mutateDecisions(best.decisions, this.rng, blocks, mutations), parent: best.id };
  }

  /**
   * Each child joins the population in arrival order; beyond P members the oldest dies.
   * @param results - observations of pending proposals.
   */
  observe(results: Observation[]): void {
    for (const { entry, reward } of takePending('evolution', this.pending, results, this.config.blocks)) {
      this.population.push({ id: entry.id, decisions: entry.decisions, reward });
      if (this.population.length > this.config.populationSize) this.population.shift();
      this.observed++;
    }
  }

  state(): EvolutionState {
    return {
      name: 'evolution',
      version: 1,
      config: { ...this.config, mutations: [...this.config.mutations] },
      nextId: this.nextId,
      rng: this.rng.state(),
      pending: [...this.pending.values()].map((e) => ({ id: e.id, decisions: [...e.decisions], parent: e.parent })),
      population: this.members,
      observed: this.observed,
    };
  }

  /**
   * @param state - from {@link EvolutionStrategy.state}.
   */
  load(state: EvolutionState): void {
    const counters = checkStateHeader('evolution.load', state, 'evolution', 1);
    const config = resolveConfig('evolution.load', state.config);
    checkRecords('evolution.load', 'pending', state.pending, config.blocks, []);
    checkRecords('evolution.load', 'population', state.population, config.blocks, ['reward']);
    if (state.population.length > config.populationSize) {
      throw new ValidationError(
        `evolution.load: state.population has ${state.population.length} members, more than populationSize ${config.populationSize}`,
      );
    }
    this.config = config;
    ({ rng: this.rng, nextId: this.nextId, observed: this.observed } = counters);
    this.pending = new Map(
      state.pending.map((e) => [e.id, { id: e.id, decisions: [...e.decisions], parent: e.parent ?? null }]),
    );
    this.population = state.population.map((m) => ({ id: m.id, decisions: [...m.decisions], reward: m.reward }));
  }
}
