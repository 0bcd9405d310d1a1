/**
 * Run folders for the dashboard tests, written the way `searchCells` writes them (config.json, one
 * history.jsonl line per child, best.json), with real genotypes from the random strategy and rewards
 * from a seeded generator, so the tests know every number the page must show.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { genotypeHash } from '../../lib/cells/genotype.js';
import { createStrategy } from '../../lib/controller/create-strategy.js';
import type { HistoryEntry } from '../../lib/search/types.js';

/** A written run folder and what it holds. */
export interface RunFixture {
  path: string;
  entries: HistoryEntry[];
  /** Appends the next child (id = entries.length) and returns it. */
  append(over?: Partial<HistoryEntry>): HistoryEntry;
}

/**
 * Writes a run folder with `children` finished children of a search that was asked for `total`.
 *
 * @param dir - the run folder (created)
 * @param o - `children`, `total` (default children), `strategy` label, `seed`, `start` (ms; default an hour ago)
 */
export function writeRunFixture(dir: string, o: { children: number; total?: number; strategy?: string; seed?: number; start?: number }): RunFixture {
  mkdirSync(dir, { recursive: true });
  const seed = o.seed ?? 1;
  const strategy = o.strategy ?? 'random';
  const start = o.start ?? Date.now() - 3.6e6;
  writeFileSync(
    join(dir, 'config.json'),
    `${JSON.stringify({ version: 1, runId: dir.split('/').pop(), dataset: 'fashion-mnist-mini', strategy, strategyOptions: {}, children: o.total ?? o.children, blocks: 5, seed, constraints: {} }, null, 2)}\n`,
  );
  const sampler = createStrategy('random', { seed });
  let state = seed * 7919 + 17;
  const rand = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const entries: HistoryEntry[] = [];
  const append = (over: Partial<HistoryEntry> = {}): HistoryEntry => {
    const [p] = sampler.propose(1);
    const i = entries.length;
    const acc = Math.round((0.5 + 0.3 * rand()) * 1000) / 1000;
    const e: HistoryEntry = {
      accuracy: acc,
      curve: [Math.round((acc - 0.1) * 1000) / 1000, acc],
      params: 40_000 + Math.floor(rand() * 160_000),
      multAdds: 5_000_000 + Math.floor(rand() * 20_000_000),
      seconds: 20 + Math.round(rand() * 400) / 10,
      diverged: false,
      id: i,
      index: i,
      genotype: p.genotype,
      hash: genotypeHash(p.genotype),
      reward: acc,
      strategy,
      finishedAt: new Date(start + (i + 1) * 60_000).toISOString(),
      ...over,
    };
    appendFileSync(join(dir, 'history.jsonl'), `${JSON.stringify(e)}\n`);
    entries.push(e);
    const best = entries.reduce((b, x) => (x.reward > b.reward ? x : b));
    writeFileSync(join(dir, 'best.json'), `${JSON.stringify({ id: best.id, reward: best.reward, hash: best.hash, genotype: best.genotype }, null, 2)}\n`);
    return e;
  };
  for (let i = 0; i < o.children; i++) append();
  return { path: dir, entries, append };
}
