import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Genotype } from '../lib/cells/genotype-types.js';
import { createStrategy, type EvolutionState, genotypeToDecisions, NASNET_CONTROLLER, type PolicyGradientState, sizedStrategyOptions } from '../lib/controller/index.js';
import type { ChildExecutor } from '../lib/search/executor.js';
import { RunDir } from '../lib/search/run-dir.js';
import { searchCells } from '../lib/search/search.js';
import type { ChildJob, ChildResult } from '../lib/search/types.js';
import { TINY_PROXY } from './helpers/tiny-proxy.js';

const root = mkdtempSync(join(tmpdir(), 'nasnet-sized-'));

/** Trains nothing: the reward is the share of separable convolutions in the normal cell. */
const sepShare: ChildExecutor = {
  concurrency: 2,
  async submit(job: ChildJob): Promise<ChildResult> {
    const ops = job.genotype.normal.blocks.flatMap((b) => b.ops);
    const accuracy = ops.filter((o) => o.startsWith('sep_conv')).length / ops.length;
    return { accuracy, curve: [accuracy], params: 10, multAdds: 100, seconds: 0.01, diverged: false };
  },
  async close() {},
};

describe('strategy sizes fitted to the children of a search', () => {
  it('sizes evolution and the policy gradients by the rule, within the bounds', () => {
    expect(sizedStrategyOptions('evolution', 8)).toEqual({ populationSize: 4, sampleSize: 2 });
    expect(sizedStrategyOptions('evolution', 20)).toEqual({ populationSize: 5, sampleSize: 2 });
    expect(sizedStrategyOptions('evolution', 40)).toEqual({ populationSize: 10, sampleSize: 3 });
    expect(sizedStrategyOptions('evolution', 10_000)).toEqual({ populationSize: 64, sampleSize: 16 });
    expect(sizedStrategyOptions('ppo', 8)).toEqual({ updateEvery: 5 });
    expect(sizedStrategyOptions('reinforce', 120)).toEqual({ updateEvery: 12 });
    expect(sizedStrategyOptions('ppo', 10_000)).toEqual({ updateEvery: NASNET_CONTROLLER.updateEvery });
    expect(sizedStrategyOptions('random', 50)).toEqual({});
    // createStrategy alone keeps the paper's sizes.
    expect((createStrategy('ppo').state() as PolicyGradientState).config.updateEvery).toBe(20);
    expect((createStrategy('evolution').state() as EvolutionState).config.populationSize).toBe(64);
  });

  it('a search of 24 children: evolution mutates tournament winners, PPO takes several updates, and the caller still wins', async () => {
    const evo = await searchCells({ runDir: join(root, 'evo'), strategy: 'evolution', children: 24, blocks: 3, proxy: TINY_PROXY, executor: { kind: 'custom', executor: sepShare } });
    const evoState = new RunDir(evo.runDir).readJson<EvolutionState>('strategy.json')!;
    expect(evoState.config).toMatchObject({ populationSize: 6, sampleSize: 2 });
    // Six random children fill the population; the other 18 were mutants (with the paper's 64, none).
    const proposals = new RunDir(evo.runDir).readLines<{ id: number; genotype: Genotype }>('proposals.jsonl').sort((p, q) => p.id - q.id);
    expect(proposals).toHaveLength(24);
    const decisions = proposals.map((p) => genotypeToDecisions(p.genotype, 3));
    const oneApart = (x: number[], y: number[]) => x.filter((v, i) => v !== y[i]).length === 1;
    const mutants = decisions.filter((d, i) => decisions.slice(0, i).some((e) => oneApart(d, e)));
    expect(mutants.length).toBeGreaterThanOrEqual(18);
    expect(evoState.population.map((m) => m.id)).toEqual([18, 19, 20, 21, 22, 23]);

    const ppo = await searchCells({ runDir: join(root, 'ppo'), strategy: 'ppo', children: 24, blocks: 3, proxy: TINY_PROXY, executor: { kind: 'custom', executor: sepShare } });
    const ppoState = new RunDir(ppo.runDir).readJson<PolicyGradientState>('strategy.json')!;
    expect(ppoState.config.updateEvery).toBe(5);
    expect(ppoState.updates).toBe(4);

    const mine = await searchCells({ runDir: join(root, 'mine'), strategy: 'evolution', strategyOptions: { populationSize: 12 }, children: 24, blocks: 3, proxy: TINY_PROXY, executor: { kind: 'custom', executor: sepShare } });
    expect(new RunDir(mine.runDir).readJson<EvolutionState>('strategy.json')!.config).toMatchObject({ populationSize: 12, sampleSize: 3 });
  });
});
