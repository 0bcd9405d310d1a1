/**
 * Does the controller learn on real data? PPO against the random policy on the same shared weights.
 *
 *   npx tsx bench/controller-rise.ts [--seed 1] [--updates 40] [--children 10] [--steps 20]
 *       [--steps-per-child 4] [--score-images 128] [--train-on uniform|policy]
 *       [--dataset fashion-mnist] [--out runs/rise]
 *
 * One set of shared weights (the shared mode's supernet at the search-quality proxy: N = 1, F = 8,
 * batches of 32, SGD lr 0.05, momentum 0.9) and, for each of `updates` PPO updates:
 * 1. `steps` training steps of the shared weights, a new child every `steps-per-child` steps, drawn
 *    uniformly (`--train-on uniform`, the default: the weights owe nothing to the controller) or from
 *    the PPO policy (`--train-on policy`, ENAS);
 * 2. `children` children of the PPO policy and `children` children of the random policy, all scored
 *    with the same weights on the same validation batch (`score-images` images; batch u of the
 *    validation split for update u);
 * 3. PPO observes its children and updates (ENAS's controller settings, `updateEvery` = `children`).
 * The random policy's mean is what the weights alone give at that point; PPO's mean minus it is what
 * the controller learned. Writes rise.jsonl (one line per update), rise.svg and rise.md under --out:
 * the mean scores over the first and the last fifth of the updates, the gap over each half, and the
 * least-squares slope of the gap against the update (± its standard error). `--report` writes rise.md
 * and rise.svg again from an existing rise.jsonl (give the options of the run).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Genotype } from '../lib/cells/genotype-types.js';
import { createStrategy } from '../lib/controller/create-strategy.js';
import { ENAS_CONTROLLER } from '../lib/controller/paper.js';
import type { PolicyGradientStrategy } from '../lib/controller/policy-gradient.js';
import { createLoader } from '../lib/data/loader.js';
import type { Batch } from '../lib/data/types.js';
import { BatchStream } from '../lib/search/batch-stream.js';
import { cachedDataset } from '../lib/search/child.js';
import { SharedSupernet } from '../lib/search/supernet.js';
import { linesSvg } from './svg.js';

const { values: a } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    updates: { type: 'string', default: '40' },
    children: { type: 'string', default: '10' },
    steps: { type: 'string', default: '20' },
    'steps-per-child': { type: 'string', default: '4' },
    'score-images': { type: 'string', default: '128' },
    'train-on': { type: 'string', default: 'uniform' },
    dataset: { type: 'string', default: 'fashion-mnist' },
    out: { type: 'string', default: 'runs/rise' },
    report: { type: 'boolean', default: false },
  },
});
const seed = Number(a.seed);
const updates = Number(a.updates);
const children = Number(a.children);
const steps = Number(a.steps);
const stepsPerChild = Number(a['steps-per-child']);
const scoreImages = Number(a['score-images']);
const trainOn = a['train-on'];
if (trainOn !== 'uniform' && trainOn !== 'policy') throw new Error(`--train-on: expected 'uniform' or 'policy' but received '${trainOn}'`);
const out = a.out!;

const mean = (xs: number[]) => xs.reduce((p, q) => p + q, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(xs.reduce((p, q) => p + (q - mean(xs)) ** 2, 0) / Math.max(xs.length - 1, 1));
const pct = (v: number) => (100 * v).toFixed(2);
const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);

interface UpdateLine {
  update: number;
  step: number;
  ppo: number;
  random: number;
  ppoBest: number;
  randomBest: number;
  entropy: number;
  seconds: number;
  load: number;
}

/** Writes rise.md and rise.svg from the per-update lines (and prints the table). */
function report(lines: UpdateLine[], run?: { step: number; hitRate: number; misses: number; wall: number; load0: number }): void {
  const n = lines.length;
  const w = Math.max(1, Math.floor(n / 5));
  const first = lines.slice(0, w);
  const last = lines.slice(-w);
  const gap = (ls: UpdateLine[]) => ls.map((l) => l.ppo - l.random);
  const se = (xs: number[]) => sd(xs) / Math.sqrt(xs.length);
  const half = Math.floor(n / 2);
  // Least-squares slope of the gap against the update number, with its standard error.
  const xs = lines.map((l) => l.update);
  const ys = gap(lines);
  const mx = mean(xs);
  const my = mean(ys);
  const sxx = xs.reduce((p, x) => p + (x - mx) ** 2, 0);
  const slope = xs.reduce((p, x, i) => p + (x - mx) * (ys[i]! - my), 0) / sxx;
  const resid = xs.reduce((p, x, i) => p + (ys[i]! - my - slope * (x - mx)) ** 2, 0);
  const slopeSe = Math.sqrt(resid / Math.max(n - 2, 1) / sxx);
  const row = (label: string, l: UpdateLine[]) =>
    `| ${label} | ${pct(mean(l.map((x) => x.ppo)))} | ${pct(mean(l.map((x) => x.random)))} | ${(100 * mean(gap(l))).toFixed(2)} ± ${(100 * se(gap(l))).toFixed(2)} | ${mean(l.map((x) => x.entropy)).toFixed(2)} |`;
  const md = [
    '| updates | PPO mean score (%) | random mean score (%) | PPO − random (points, ± s.e.) | PPO entropy |',
    '|---|---|---|---|---|',
    row(`1–${w}`, first),
    row(`${n - w + 1}–${n}`, last),
    row(`1–${half}`, lines.slice(0, half)),
    row(`${half + 1}–${n}`, lines.slice(half)),
    '',
    `- slope of PPO − random against the update: ${(100 * slope).toFixed(3)} ± ${(100 * slopeSe).toFixed(3)} points per update (least squares, ± s.e.; ${(100 * slope * (n - 1)).toFixed(2)} points over the ${n} updates)`,
    `- ${a.dataset}, seed ${seed}: ${n} PPO updates of ${children} children (ENAS controller: lr ${ENAS_CONTROLLER.learningRate}, entropy ${ENAS_CONTROLLER.entropyWeight}, baseline decay ${ENAS_CONTROLLER.baselineDecay}, ${ENAS_CONTROLLER.controller.hiddenSize} units, temperature ${ENAS_CONTROLLER.controller.temperature}, tanh ${ENAS_CONTROLLER.controller.tanhConstant}); ${steps} shared steps before each update (${lines[n - 1]!.step} in all), the children trained drawn ${trainOn === 'uniform' ? 'uniformly' : 'from the PPO policy'}, a new one every ${stepsPerChild} steps; scores on ${scoreImages} validation images, the same batch for both policies at each update.`,
    `- PPO − random per update (points): ${ys.map((g) => (100 * g).toFixed(1)).join(', ')}`,
    `- ${run ? `plan cache: ${(100 * run.hitRate).toFixed(1)}% hits, ${run.misses} plans compiled; wall clock ${(run.wall / 60).toFixed(1)} min; load average (1 min) ${run.load0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}` : `wall clock ${(lines.reduce((p, l) => p + l.seconds, 0) / 60).toFixed(1)} min over the updates; load average (1 min) at each update ${Math.min(...lines.map((l) => l.load)).toFixed(1)}–${Math.max(...lines.map((l) => l.load)).toFixed(1)}`}`,
  ].join('\n');
  writeFileSync(join(out, 'rise.md'), `${md}\n`);
  writeFileSync(
    join(out, 'rise.svg'),
    linesSvg(
      [
        { label: 'PPO policy', x: xs, y: lines.map((l) => l.ppo) },
        { label: 'random policy', x: xs, y: lines.map((l) => l.random) },
      ],
      `mean shared-weight score of ${children} children per PPO update, same weights and batch (${a.dataset})`,
      'PPO update',
      'mean validation accuracy (shared weights)',
    ),
  );
  process.stdout.write(`${md}\n`);
}

async function main(): Promise<void> {
  if (a.report) {
    report(readFileSync(join(out, 'rise.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as UpdateLine));
    return;
  }
  mkdirSync(out, { recursive: true });
  const t0 = performance.now();
  const load0 = loadavg()[0]!;
  const ds = await cachedDataset(a.dataset!);
  const net = new SharedSupernet({
    network: { cellsPerStack: 1, filters: 8, stemMultiplier: 3, numClasses: ds.info.classes, inputSize: [ds.info.height, ds.info.width], inputChannels: ds.info.channels },
    batchSize: 32,
    scoreBatch: scoreImages,
    seed,
  });
  const ppo = createStrategy('ppo', { seed, ...ENAS_CONTROLLER, updateEvery: children }) as unknown as PolicyGradientStrategy;
  const random = createStrategy('random', { seed: seed + 1000 });
  const uniform = createStrategy('random', { seed: seed + 2000 });
  const stream = new BatchStream(createLoader(ds.train, { batchSize: 32, shuffle: true, seed, augment: ds.defaultAugment, dropLast: true }), 0);
  const valLoader = createLoader(ds.validation, { batchSize: scoreImages, dropLast: true });
  const valBatch = async (u: number): Promise<Batch> => {
    const it = valLoader.epoch(0, u % valLoader.batchesPerEpoch);
    const b = (await it.next()).value as Batch;
    await it.return();
    return b;
  };
  log(`${a.dataset}: ${updates} PPO updates of ${children} children, ${steps} shared steps before each (new child every ${stepsPerChild}, drawn ${trainOn === 'uniform' ? 'uniformly' : 'from the PPO policy'}), scored on ${scoreImages} validation images; load ${load0.toFixed(1)}`);
  const lines: UpdateLine[] = [];
  let step = 0;
  let child: Genotype | undefined;
  for (let u = 1; u <= updates; u++) {
    const t = performance.now();
    for (let k = 0; k < steps; k++, step++) {
      if (step % stepsPerChild === 0 || !child) child = (trainOn === 'uniform' ? uniform : ppo).sample!(1)[0];
      const b = await stream.next();
      await net.trainStep(child!, b.images, b.labels, { lr: 0.05, momentum: 0.9, weightDecay: 5e-4, clipNorm: 5, step });
    }
    const val = await valBatch(u - 1);
    const scoreAll = async (gs: Genotype[]) => {
      const s: number[] = [];
      for (const g of gs) s.push((await net.score(g, val.images, val.labels)).accuracy);
      return s;
    };
    const kids = ppo.propose(children);
    const ppoScores = await scoreAll(kids.map((p) => p.genotype));
    const randomScores = await scoreAll(random.propose(children).map((p) => p.genotype));
    ppo.observe(kids.map((p, i) => ({ id: p.id, genotype: p.genotype, reward: ppoScores[i]! })));
    const line: UpdateLine = {
      update: u,
      step,
      ppo: mean(ppoScores),
      random: mean(randomScores),
      ppoBest: Math.max(...ppoScores),
      randomBest: Math.max(...randomScores),
      entropy: ppo.lastUpdate?.meanEntropy ?? Number.NaN,
      seconds: (performance.now() - t) / 1000,
      load: loadavg()[0]!,
    };
    lines.push(line);
    writeFileSync(join(out, 'rise.jsonl'), `${JSON.stringify(line)}\n`, { flag: u === 1 ? 'w' : 'a' });
    log(`update ${u}: PPO ${pct(line.ppo)}%, random ${pct(line.random)}%, gap ${(100 * (line.ppo - line.random)).toFixed(2)} points, entropy ${line.entropy.toFixed(2)} (${line.seconds.toFixed(1)} s)`);
  }
  await stream.close();
  const stats = net.stats();
  net.dispose();

  report(lines, { step, hitRate: stats.hitRate, misses: stats.misses, wall: (performance.now() - t0) / 1000, load0 });
}

await main();
