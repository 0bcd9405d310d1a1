import { describe, expect, it } from 'vitest';
import type { Genotype } from '../lib/cells/genotype-types.js';
import { CELL_INPUTS, PRIMITIVES } from '../lib/cells/space.js';
import {
  createStrategy,
  decisionSteps,
  EvolutionStrategy,
  genotypeToDecisions,
  mutateDecisions,
  type Observation,
  type PolicyGradientState,
  PolicyGradientStrategy,
  type Proposal,
  randomDecisions,
  restoreStrategy,
  type SearchStrategy,
  STRATEGY_NAMES,
  type StrategyName,
  type StrategyState,
} from '../lib/controller/index.js';
import { Rng } from '../lib/util/rng.js';

/** A cheap deterministic reward: share of separable convs in the normal cell, plus a little for reading h_i. */
function reward(g: Genotype): number {
  const ops = g.normal.blocks.flatMap((b) => b.ops);
  const sep = ops.filter((o) => o.startsWith('sep_conv')).length / ops.length;
  return sep + 0.01 * g.normal.blocks.filter((b) => b.inputs.includes(0)).length;
}

const observe = (p: Proposal): Observation => ({ id: p.id, genotype: p.genotype, reward: reward(p.genotype) });

/** Small, fast options for every strategy (PPO/REINFORCE update every 6 children). */
function smallOptions(name: StrategyName): Record<string, unknown> {
  switch (name) {
    case 'ppo':
    case 'reinforce':
      return { seed: 7, blocks: 3, controller: { hiddenSize: 8 }, updateEvery: 6, learningRate: 0.01, epochs: 3 };
    case 'evolution':
      return { seed: 7, blocks: 3, populationSize: 8, sampleSize: 3 };
    default:
      return { seed: 7, blocks: 3 };
  }
}

/**
 * A fixed script of asynchronous work: propose some, observe a shuffled subset, propose while others
 * are pending. Returns every proposal, in order.
 */
function drive(s: SearchStrategy, rounds: number, scriptSeed: number, inFlight: Proposal[] = []): Proposal[] {
  const rng = new Rng(scriptSeed);
  const all: Proposal[] = [];
  for (let r = 0; r < rounds; r++) {
    const fresh = s.propose(1 + rng.int(4));
    all.push(...fresh);
    inFlight.push(...fresh);
    const done: Proposal[] = [];
    const m = rng.int(inFlight.length + 1);
    for (let i = 0; i < m; i++) done.push(inFlight.splice(rng.int(inFlight.length), 1)[0]);
    s.observe(done.map(observe));
  }
  return all;
}

describe('strategies: exact resume', () => {
  for (const name of STRATEGY_NAMES) {
    it(`${name}: a strategy loaded from state() proposes exactly what the original would have`, () => {
      const a = createStrategy(name, smallOptions(name));
      const inFlightA: Proposal[] = [];
      drive(a, 12, 1, inFlightA);
      expect(inFlightA.length).toBeGreaterThan(0); // pending proposals travel in the state
      const saved: StrategyState = JSON.parse(JSON.stringify(a.state()));
      const b = restoreStrategy(saved);
      const c = createStrategy(name); // default options: load() replaces them with the saved ones
      c.load(JSON.parse(JSON.stringify(saved)));
      const inFlightB = inFlightA.map((p) => ({ ...p }));
      const inFlightC = inFlightA.map((p) => ({ ...p }));
      const nextA = drive(a, 15, 2, inFlightA);
      const nextB = drive(b, 15, 2, inFlightB);
      const nextC = drive(c, 15, 2, inFlightC);
      expect(nextB).toEqual(nextA);
      expect(nextC).toEqual(nextA);
      expect(b.state()).toEqual(a.state());
      expect(JSON.parse(JSON.stringify(a.state()))).toEqual(a.state());
      // Not a tautology: the continuation differs from the saved prefix and carries on the ids.
      expect(nextA[0].id).toBe(saved.nextId);
    });
  }

  it('ppo: the saved state really crosses updates (weights, Adam and baseline move)', () => {
    const s = createStrategy('ppo', smallOptions('ppo')) as PolicyGradientStrategy;
    const before = Array.from(s.policy.params);
    drive(s, 12, 1);
    const st = s.state() as PolicyGradientState;
    expect(st.updates).toBeGreaterThanOrEqual(2);
    expect(st.adam.step).toBe(st.updates * 3);
    expect(st.params).not.toEqual(before);
    expect(st.baseline).not.toBeNull();
  });
});

describe('strategies: sample()', () => {
  for (const name of STRATEGY_NAMES) {
    it(`${name}: draws what propose() would draw, makes nothing pending, and its draws travel in state()`, () => {
      const a = createStrategy(name, smallOptions(name));
      drive(a, 12, 1); // past evolution's random phase and PPO's first updates
      const saved = JSON.parse(JSON.stringify(a.state()));
      const b = restoreStrategy(saved);
      const sampled = a.sample!(5);
      const proposed = b.propose(5).map((p) => p.genotype);
      expect(sampled).toEqual(proposed); // the same draws from the same state
      expect((a.state() as { pending: unknown[] }).pending).toEqual(saved.pending);
      expect(a.state()).not.toEqual(saved); // the random state moved
      const c = restoreStrategy(JSON.parse(JSON.stringify(a.state())));
      expect(c.sample!(3)).toEqual(a.sample!(3));
      expect(() => a.sample!(0)).toThrow(`${name}.sample: expected positive integer for k but received 0 of type number`);
    });
  }
});

describe('strategies: errors', () => {
  it('rejects unknown, repeated and mismatched observations, naming the id', () => {
    for (const name of STRATEGY_NAMES) {
      const s = createStrategy(name, smallOptions(name));
      const [p, q] = s.propose(2);
      expect(() => s.observe([{ id: 99, genotype: p.genotype, reward: 1 }])).toThrow(
        `${name}.observe: results[0].id 99 is not a pending proposal (unknown or already observed)`,
      );
      expect(() => s.observe([{ id: p.id, genotype: p.genotype, reward: Number.NaN }])).toThrow(
        `${name}.observe: results[0] (id ${p.id}): expected a finite reward but received NaN`,
      );
      const other = genotypeToDecisions(p.genotype).join() === genotypeToDecisions(q.genotype).join() ? null : q.genotype;
      if (other) {
        expect(() => s.observe([{ id: p.id, genotype: other, reward: 1 }])).toThrow(
          `${name}.observe: results[0] (id ${p.id}): the genotype is not the one proposed under this id`,
        );
      }
      // A bad batch changes nothing: p is still pending.
      expect(() => s.observe([observe(p), observe(p)])).toThrow('results[1].id 0 is not a pending proposal');
      s.observe([observe(q), observe(p)]);
      expect(() => s.observe([observe(p)])).toThrow('is not a pending proposal');
      expect(() => s.propose(0)).toThrow(`${name}.propose: expected positive integer for k but received 0 of type number`);
    }
  });

  it('rejects bad names, options and states', () => {
    expect(() => createStrategy('annealing' as StrategyName)).toThrow(
      'createStrategy: expected one of \'ppo\', \'reinforce\', \'random\', \'evolution\' for name but received "annealing" of type string',
    );
    expect(() => createStrategy('ppo', { learningRate: -1 })).toThrow(
      'ppo: expected finite number > 0 for learningRate but received -1 of type number',
    );
    expect(() => createStrategy('ppo', { controller: { hiddenSize: 2.5 } })).toThrow(
      'ppo: LstmController: expected positive integer for hiddenSize but received 2.5 of type number',
    );
    expect(() => createStrategy('evolution', { populationSize: 1 })).toThrow(
      'evolution: expected integer >= 2 for populationSize but received 1 of type number',
    );
    expect(() => createStrategy('evolution', { mutations: [] })).toThrow("evolution: expected a non-empty list of distinct 'input', 'op', 'combine' for mutations but received [] (an array)");
    const ppo = createStrategy('ppo', smallOptions('ppo'));
    const evo = createStrategy('evolution', smallOptions('evolution'));
    expect(() => ppo.load(evo.state())).toThrow('ppo.load: expected \'ppo\' for state.name but received "evolution" of type string');
    const st = ppo.state() as PolicyGradientState;
    expect(() => ppo.load({ ...st, params: st.params.slice(1) })).toThrow(
      `ppo.load: expected state.params to hold ${st.params.length} numbers but received ${st.params.length - 1}`,
    );
    expect(() => restoreStrategy({ name: 'sgd' } as never)).toThrow("restoreStrategy: expected one of 'ppo', 'reinforce', 'random', 'evolution' for state.name but received \"sgd\" of type string");
    expect(() => evo.load({ ...evo.state(), rng: [0, 0, 0, 0] })).toThrow('evolution.load: state.rng: Rng.load: the state must not be all zero');
    expect(() => evo.load({ ...evo.state(), observed: -1 })).toThrow(
      'evolution.load: expected non-negative integer for state.observed but received -1 of type number',
    );
    const bad = { ...evo.state(), population: [{ id: 0, decisions: [1, 2], reward: 1 }] };
    expect(() => evo.load(bad as never)).toThrow('evolution.load: state.population[0]: decisions: expected 30 integers');
  });
});

describe('policy gradients', () => {
  it('updates every updateEvery children, with the EMA baseline of decay 0.95', () => {
    const s = new PolicyGradientStrategy('ppo', { ...smallOptions('ppo'), updateEvery: 5 });
    const rewards: number[] = [];
    for (let i = 0; i < 14; i++) {
      const [p] = s.propose(1);
      s.observe([observe(p)]);
      rewards.push(reward(p.genotype));
    }
    expect(s.updateCount).toBe(2);
    let b = rewards[0];
    for (const r of rewards.slice(1)) b = 0.95 * b + 0.05 * r;
    expect(s.baselineValue).toBeCloseTo(b, 12);
    expect(s.lastUpdate?.update).toBe(2);
  });

  it('PPO with one epoch takes the same first step as REINFORCE (ratio 1), and its later epochs clip', () => {
    const opts = { ...smallOptions('ppo'), epochs: 1 };
    const ppo = new PolicyGradientStrategy('ppo', opts);
    const rf = new PolicyGradientStrategy('reinforce', opts);
    for (const s of [ppo, rf]) s.observe(s.propose(6).map(observe));
    expect(ppo.updateCount).toBe(1);
    expect(Array.from(ppo.policy.params)).toEqual(Array.from(rf.policy.params));
    // Many epochs with a big step push ratios out of [0.8, 1.2]: clipping happens.
    const hot = new PolicyGradientStrategy('ppo', { ...smallOptions('ppo'), learningRate: 0.05, epochs: 20 });
    hot.observe(hot.propose(6).map(observe));
    hot.observe(hot.propose(6).map(observe));
    expect(hot.lastUpdate!.clipFraction).toBeGreaterThan(0);
  });

  it('learns from children proposed before an update and observed after it (stale log-probs)', () => {
    const s = new PolicyGradientStrategy('ppo', smallOptions('ppo'));
    const early = s.propose(4);
    s.observe(s.propose(6).map(observe)); // update 1
    expect(s.updateCount).toBe(1);
    s.observe(early.map(observe));
    s.observe(s.propose(2).map(observe)); // update 2 includes the stale four
    expect(s.updateCount).toBe(2);
    expect(Number.isFinite(s.lastUpdate!.meanAdvantage)).toBe(true);
  });
});

describe('random search', () => {
  it('is uniform over each decision within the input restrictions', () => {
    const s = createStrategy('random', { seed: 3, blocks: 5 });
    const steps = decisionSteps(5);
    const counts = steps.map((st) => new Array(st.choices).fill(0));
    const n = 2000;
    for (const p of s.propose(n)) {
      genotypeToDecisions(p.genotype).forEach((d, i) => {
        counts[i][d]++;
      });
    }
    steps.forEach((st, i) => {
      for (const c of counts[i]) expect(Math.abs(c / n - 1 / st.choices)).toBeLessThan(0.05);
    });
  });
});

describe('regularized evolution', () => {
  it('mutates exactly one input or op of one block, always to a different valid value', () => {
    const rng = new Rng(4);
    const kinds = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const parent = randomDecisions(rng, 5);
      const child = mutateDecisions(parent, rng, 5);
      const diff = child.map((d, k) => (d !== parent[k] ? k : -1)).filter((k) => k >= 0);
      expect(diff.length).toBe(1);
      const step = decisionSteps(5)[diff[0]];
      expect(step.kind).not.toBe('combine');
      kinds.add(`${step.kind}:${step.cell}`);
      expect(child[diff[0]]).toBeLessThan(step.kind === 'input' ? CELL_INPUTS + step.block : PRIMITIVES.length);
    }
    expect([...kinds].sort()).toEqual(['input:normal', 'input:reduction', 'op:normal', 'op:reduction']);
    const withCombine = mutateDecisions(randomDecisions(rng, 2), new Rng(1), 2, ['combine']);
    expect(withCombine.length).toBe(20);
  });

  it('proposes random children until the population is full, then mutants of tournament winners; the oldest dies', () => {
    const P = 10;
    const s = new EvolutionStrategy({ seed: 2, blocks: 3, populationSize: P, sampleSize: 4 });
    const first = s.propose(P);
    for (const p of first) expect((p.meta as { parent: number | null }).parent).toBeNull();
    s.observe(first.map(observe).reverse());
    expect(s.members.map((m) => m.id)).toEqual(first.map((p) => p.id).reverse());
    for (let i = 0; i < 30; i++) {
      const [child] = s.propose(1);
      const parentId = (child.meta as { parent: number }).parent;
      const parent = s.members.find((m) => m.id === parentId);
      expect(parent).toBeDefined();
      const d = genotypeToDecisions(child.genotype);
      expect(d.filter((v, k) => v !== parent!.decisions[k]).length).toBe(1);
      s.observe([observe(child)]);
      expect(s.members.length).toBe(P);
      expect(s.members[P - 1].id).toBe(child.id); // youngest last
    }
    // Only the last P observed remain (aging, not fitness, removes members).
    const ids = s.members.map((m) => m.id);
    expect(Math.min(...ids)).toBe(first.length + 30 - P);
  });
});
