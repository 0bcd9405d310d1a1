/**
 * PPO vs REINFORCE vs random vs evolution on a real proxy task, at the same budget and seeds.
 *
 *   npx tsx bench/compare-strategies.ts --children 20 --seeds 1 --strategies ppo,random,evolution \
 *       [--dataset fashion-mnist-mini] [--epochs 1] [--n 1] [--filters 8] [--max-batches 0] [--out runs/compare]
 *
 * Each (strategy, seed) is a full search (searchCells) in its own run folder under --out; at the end
 * it prints best and median reward per strategy, writes `compare.json` and `reward.svg` (every
 * strategy's rewards and running best against child index).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { StrategyName } from '../lib/controller/strategy.js';
import { rewardPlotSvg } from '../lib/search/plot.js';
import { searchCells } from '../lib/search/search.js';

const { values: a } = parseArgs({
  options: {
    children: { type: 'string', default: '20' },
    seeds: { type: 'string', default: '1' },
    strategies: { type: 'string', default: 'ppo,random,evolution' },
    dataset: { type: 'string', default: 'fashion-mnist-mini' },
    epochs: { type: 'string', default: '1' },
    n: { type: 'string', default: '1' },
    filters: { type: 'string', default: '8' },
    batch: { type: 'string', default: '32' },
    'max-batches': { type: 'string', default: '0' },
    out: { type: 'string', default: `runs/compare-${Date.now()}` },
  },
});
const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
mkdirSync(a.out!, { recursive: true });
const seeds = a.seeds!.split(',').map(Number);
const summary: Record<string, unknown>[] = [];
const series = [];
for (const strategy of a.strategies!.split(',') as StrategyName[]) {
  const rewards: number[] = [];
  let best = -Infinity;
  for (const seed of seeds) {
    const t0 = performance.now();
    const r = await searchCells({
      strategy,
      // A small population so evolution leaves its random phase within a small budget.
      strategyOptions: strategy === 'evolution' ? { populationSize: 8, sampleSize: 3 } : strategy === 'ppo' || strategy === 'reinforce' ? { updateEvery: 5 } : {},
      dataset: a.dataset,
      children: Number(a.children),
      proxy: { cellsPerStack: Number(a.n), filters: Number(a.filters), epochs: Number(a.epochs), batchSize: Number(a.batch), lr: 0.05, maxBatchesPerEpoch: Number(a['max-batches']) },
      seed,
      runDir: join(a.out!, `${strategy}-seed${seed}`),
    });
    const rs = r.history.map((h) => h.reward);
    rewards.push(...rs);
    best = Math.max(best, r.best.reward);
    if (seed === seeds[0]) series.push({ label: strategy, rewards: rs });
    console.log(`${strategy} seed ${seed}: best ${r.best.reward.toFixed(4)}, median ${median(rs).toFixed(4)}, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  summary.push({ strategy, children: rewards.length, best, median: median(rewards), mean: rewards.reduce((x, y) => x + y, 0) / rewards.length });
}
writeFileSync(join(a.out!, 'compare.json'), `${JSON.stringify({ options: a, summary }, null, 2)}\n`);
writeFileSync(join(a.out!, 'reward.svg'), rewardPlotSvg(series, `reward by child on ${a.dataset} (seed ${seeds[0]})`));
console.log('\nstrategy    children  best    median  mean');
for (const s of summary as { strategy: string; children: number; best: number; median: number; mean: number }[]) {
  console.log(`${s.strategy.padEnd(12)}${String(s.children).padEnd(10)}${s.best.toFixed(4)}  ${s.median.toFixed(4)}  ${s.mean.toFixed(4)}`);
}
console.log(`\n${join(a.out!, 'compare.json')}, ${join(a.out!, 'reward.svg')}`);
