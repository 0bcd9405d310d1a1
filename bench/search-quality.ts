/**
 * Search quality at a fixed wall-clock budget: does a strategy find better cells than random search?
 *
 *   npx tsx bench/search-quality.ts [--budget 300] [--seeds 1,2,3] [--strategies random,ppo,evolution]
 *       [--modes standalone,halving,shared] [--configs mode:strategy,...] [--dataset fashion-mnist]
 *       [--eval-seeds 3] [--proxy-repeats 1] [--out runs/quality] [--quick]
 *
 * 1. Searches: for every seed, mode (standalone, halving, shared) and strategy (random, PPO,
 *    evolution), one `searchCells` run on the proxy task (the full Fashion-MNIST training split, its
 *    own 5,000-image validation split) with `maxSeconds: budget` — the same wall clock for every run,
 *    the shared mode's final re-scoring and standalone retraining included. Runs are interleaved
 *    (seed, then mode, then strategy) so the machine's load hits them alike. `--configs` picks
 *    (mode, strategy) pairs instead of every mode with every strategy (e.g.
 *    `standalone:random,halving:ppo`).
 * 2. Each run's proxy scores: its best and the mean of its top 5 children by standalone proxy accuracy
 *    (standalone: the children; halving: the children that reached the top rung, i.e. the full proxy
 *    budget; shared: the children retrained standalone at the end).
 * 3. Evaluation: the best cell of every run, NASNet-A and one random cell per seed, each trained the
 *    same way at one fixed evaluation scale and schedule from --eval-seeds initializations (3; quick:
 *    1), scored on the 10,000 test images: a cell's score is the mean over its initializations.
 * 4. Kendall τ between shared-weight scores (final weights of the first seed's random/shared run) and
 *    standalone proxy accuracies on a sample of uniformly random children.
 * 5. The controller on real data: the mean shared score of each PPO update's children (every
 *    `updateEvery` scored children, in the order scored) in every shared run — for random and
 *    evolution in groups of the same size (the weights improve for all; the gap is the strategy's) —
 *    and, on the final shared weights of the PPO run, children sampled from the initial policy, the
 *    final policy and uniformly.
 *
 * Writes under --out: runs/<mode>-<strategy>-s<seed>/ (run folders with bench.json), eval.jsonl,
 * tau.json, policy.json, quality.json, quality.md (the table), quality.svg, controller.svg. Every
 * finished piece is kept: running the same command again continues where it stopped (an unfinished
 * search run is started over, since a wall-clock run cannot be resumed fairly).
 *
 * Seeds in parallel: `--partial --seeds K` runs only the searches of seed K and the evaluation of
 * their cells (and of seed K's random cell); start one such process per seed (each with the same
 * OMP_NUM_THREADS: children are trained with that many threads too), then the same command without
 * --partial and with every seed for NASNet-A, τ, the policy check and the report.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { genotypeHash } from '../lib/cells/genotype.js';
import type { Genotype } from '../lib/cells/genotype-types.js';
import { NASNET_A } from '../lib/cells/genotypes.js';
import { createStrategy, restoreStrategy, type StrategyState } from '../lib/controller/create-strategy.js';
import { ENAS_CONTROLLER } from '../lib/controller/paper.js';
import { sizedStrategyOptions } from '../lib/controller/sized.js';
import type { StrategyName } from '../lib/controller/strategy.js';
import { createLoader } from '../lib/data/loader.js';
import type { Dataset } from '../lib/data/types.js';
import { cachedDataset, trainChild } from '../lib/search/child.js';
import type { ChildExecutor } from '../lib/search/executor.js';
import type { RungRecord } from '../lib/search/halving.js';
import { createLocalExecutor } from '../lib/search/local-executor.js';
import { kendallTau } from '../lib/search/rank.js';
import { RunDir } from '../lib/search/run-dir.js';
import { searchCells } from '../lib/search/search.js';
import { SharedSupernet } from '../lib/search/supernet.js';
import type { ChildResult, HistoryEntry, ProxyConfig } from '../lib/search/types.js';
import { readCheckpoint } from '../lib/train/checkpoint.js';
import { qualityEval, qualityProxy, trainAtEvalScale } from './quality-scale.js';
import { dotsSvg, linesSvg } from './svg.js';

const { values: a } = parseArgs({
  options: {
    budget: { type: 'string' },
    seeds: { type: 'string' },
    strategies: { type: 'string', default: 'random,ppo,evolution' },
    modes: { type: 'string', default: 'standalone,halving,shared' },
    configs: { type: 'string' },
    dataset: { type: 'string', default: 'fashion-mnist' },
    out: { type: 'string', default: 'runs/quality' },
    'tau-sample': { type: 'string' },
    'eval-seeds': { type: 'string' },
    'proxy-repeats': { type: 'string', default: '1' },
    quick: { type: 'boolean', default: false },
    partial: { type: 'boolean', default: false },
  },
});
const quick = a.quick!;
const budget = Number(a.budget ?? (quick ? 60 : 300));
const seeds = (a.seeds ?? (quick ? '1' : '1,2,3')).split(',').map(Number);
type Mode = 'standalone' | 'halving' | 'shared';
/** The (mode, strategy) pairs measured, mode-major. */
const configs: { mode: Mode; strategy: StrategyName }[] = a.configs
  ? a.configs.split(',').map((c) => {
      const [mode, strategy] = c.split(':') as [Mode, StrategyName];
      if (!['standalone', 'halving', 'shared'].includes(mode) || !['random', 'ppo', 'reinforce', 'evolution'].includes(strategy)) {
        throw new Error(`--configs: '${c}' is not mode:strategy (mode standalone, halving or shared; strategy random, ppo, reinforce or evolution)`);
      }
      return { mode, strategy };
    })
  : (a.modes!.split(',') as Mode[]).flatMap((mode) => (a.strategies!.split(',') as StrategyName[]).map((strategy) => ({ mode, strategy })));
const modes = [...new Set(configs.map((c) => c.mode))];
const out = a.out!;
const tauSample = Number(a['tau-sample'] ?? (quick ? 4 : 16));
/** Proxy trainings per child (from different initializations; the child's reward is their mean accuracy). */
const proxyRepeats = Number(a['proxy-repeats']);
if (!Number.isInteger(proxyRepeats) || proxyRepeats < 1) throw new Error(`--proxy-repeats: expected a positive integer but received '${a['proxy-repeats']}'`);
/** Initializations each evaluated cell is trained from (its score is their mean). */
const evalSeeds = Number(a['eval-seeds'] ?? (quick ? 1 : 3));
if (!Number.isInteger(evalSeeds) || evalSeeds < 1) throw new Error(`--eval-seeds: expected a positive integer but received '${a['eval-seeds']}'`);
/** Threads of every training here and in the children's worker processes: OMP_NUM_THREADS, or the cores. */
const THREADS = Number(process.env.OMP_NUM_THREADS ?? 0) || undefined;

/** The proxy child every search trains (and the shared mode's network): N = 1, F = 8, 100 batches of 32. */
const PROXY: ProxyConfig = qualityProxy(quick);
/** The evaluation scale and schedule, the same for every cell. */
const EVAL = qualityEval(quick);
/**
 * The shared mode's settings. One step per sampled child, as in ENAS: a new child's first step costs
 * about 1.3–2.4 warm steps since the CPU backend keeps disposed plans' memory (it had cost five, when
 * this was four steps per child). Rounds of 50 steps and 10 scored children (ENAS scores 10 children
 * per controller step), so that a run of a few minutes takes several rounds and controller updates.
 */
const SHARED = {
  stepsPerRound: 50,
  stepsPerChild: 1,
  childrenPerRound: 10,
  scoreImages: quick ? 128 : 256,
  candidates: quick ? 6 : 20,
  finalScoreImages: quick ? 256 : 1024,
  retrainTop: quick ? 2 : 5,
};
/**
 * The children a run of `budget` seconds is expected to evaluate, which sizes evolution's population
 * and tournament and the controller's children per update (sizedStrategyOptions, as searchCells does
 * for a search given its number of children; these runs are bounded by time instead). Timed on
 * 2026-12-01 at load ~1, before any search result of that day: standalone (and halving, alike) one
 * child per 9 s at the full proxy (100 batches: 7.8–8.9 s each), one per 4 s at the quick one; shared:
 * a round (50 steps, 10 scores) per 9 s after the final phase's 85 s (20 re-scores on 1,024 images,
 * five retrainings of ~11 s), 35 s in the quick form.
 */
function expectedChildren(mode: Mode): number {
  if (mode === 'shared') return Math.max(SHARED.childrenPerRound, SHARED.childrenPerRound * Math.floor((budget - (quick ? 35 : 85)) / 9));
  return Math.max(1, Math.round(budget / ((quick ? 4 : 9) * proxyRepeats)));
}
/** Strategy settings, fixed before any result: ENAS's controller in every mode; sizes fitted to the budget (see expectedChildren). */
function strategyOptions(mode: Mode, strategy: StrategyName): Record<string, unknown> {
  const sized = sizedStrategyOptions(strategy, expectedChildren(mode));
  return strategy === 'ppo' || strategy === 'reinforce' ? { ...ENAS_CONTROLLER, ...sized } : sized;
}
const HALVING = { kind: 'halving' as const, rungs: 3, eta: 3 };

/** What one search run left for the report. */
interface RunSummary {
  mode: string;
  strategy: StrategyName;
  seed: number;
  wallSeconds: number;
  children: number;
  /** Standalone trainings at any budget (children, rungs or retrainings). */
  trainings: number;
  /** Standalone proxy accuracies of the run's top children (see the file comment), best first. */
  top: { id: number; hash: string; genotype: Genotype; accuracy: number }[];
  /** Halving: children at each rung. */
  rungs?: number[];
  shared?: { steps: number; rounds: number; hitRate: number; compileMsPerPlan: number; plansCompiled: number };
  load: [number, number];
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((p, q) => p + q, 0) / xs.length : Number.NaN);
const sd = (xs: number[]) => (xs.length > 1 ? Math.sqrt(xs.reduce((p, q) => p + (q - mean(xs)) ** 2, 0) / (xs.length - 1)) : 0);
const pct = (v: number) => (Number.isFinite(v) ? (100 * v).toFixed(2) : '-');
const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);

function topOf(mode: string, r: { history: HistoryEntry[]; retrained?: HistoryEntry[] }, runDir: string): RunSummary['top'] {
  let pool: HistoryEntry[];
  if (mode === 'shared') pool = r.retrained ?? [];
  else {
    pool = r.history.filter((h) => !h.error && h.duplicateOf === undefined && !h.rejected);
    if (mode === 'halving') {
      const highest = Math.max(...pool.map((h) => h.rung ?? 0));
      pool = pool.filter((h) => (h.rung ?? 0) === highest);
      if (highest < HALVING.rungs - 1) log(`${runDir}: no child reached the top rung; its top is taken at rung ${highest}`);
    }
  }
  return [...pool]
    .sort((x, y) => y.reward - x.reward || x.id - y.id)
    .slice(0, 5)
    .map((h) => ({ id: h.id, hash: h.hash, genotype: h.genotype, accuracy: h.reward }));
}

/**
 * An executor that trains every child (or rung, or retraining) `repeats` times from different
 * initializations and reports the mean accuracy (the proxy's noise between two trainings of one cell
 * is 1–3 points: bench/proxy-rank.ts). The first training's seed is the search's, so one repeat is
 * the plain executor.
 */
function averaging(inner: ChildExecutor, repeats: number): ChildExecutor {
  if (repeats === 1) return inner;
  return {
    concurrency: inner.concurrency,
    async submit(job, signal) {
      const results: ChildResult[] = [];
      for (let r = 0; r < repeats; r++) {
        const res = await inner.submit({ ...job, seed: job.seed + 7919 * r }, signal);
        if (res.error) return res;
        results.push(res);
      }
      return {
        ...results[0]!,
        accuracy: mean(results.map((x) => x.accuracy)),
        curve: results[0]!.curve.map((_, e) => mean(results.map((x) => x.curve[e]!))),
        seconds: results.reduce((t, x) => t + x.seconds, 0),
        diverged: results.some((x) => x.diverged),
      };
    },
    ...(inner.progressInfo ? { progressInfo: () => inner.progressInfo!() } : {}),
    close: () => inner.close(),
  };
}

async function search(seed: number, mode: RunSummary['mode'], strategy: StrategyName): Promise<RunSummary> {
  const runDir = join(out, 'runs', `${mode}-${strategy}-s${seed}`);
  const done = join(runDir, 'bench.json');
  if (existsSync(done)) return JSON.parse(readFileSync(done, 'utf8')) as RunSummary;
  rmSync(runDir, { recursive: true, force: true });
  const load0 = loadavg()[0]!;
  log(`search ${mode} ${strategy} seed ${seed}: ${budget} s (load ${load0.toFixed(1)})`);
  const t0 = performance.now();
  const r = await searchCells({
    runDir,
    dataset: a.dataset,
    strategy,
    strategyOptions: strategyOptions(mode as Mode, strategy),
    children: 1_000_000,
    proxy: PROXY,
    seed,
    maxSeconds: budget,
    mode: mode === 'shared' ? 'shared' : 'standalone',
    schedule: mode === 'halving' ? HALVING : undefined,
    shared: mode === 'shared' ? SHARED : undefined,
    executor: { kind: 'custom', executor: averaging(createLocalExecutor({ concurrency: 1, threadsPerChild: THREADS }), proxyRepeats) },
  });
  const run = new RunDir(runDir);
  const rungLines = mode === 'halving' ? run.readLines<RungRecord>('rungs.jsonl') : [];
  const summary: RunSummary = {
    mode,
    strategy,
    seed,
    wallSeconds: (performance.now() - t0) / 1000,
    children: r.history.length,
    trainings: mode === 'halving' ? rungLines.length : mode === 'shared' ? (r.retrained?.length ?? 0) : r.history.filter((h) => h.duplicateOf === undefined && !h.rejected).length,
    top: topOf(mode, r, runDir),
    ...(mode === 'halving' ? { rungs: [0, 1, 2].map((k) => rungLines.filter((l) => l.rung === k).length) } : {}),
    ...(r.shared
      ? {
          shared: {
            steps: r.shared.steps,
            rounds: r.shared.rounds,
            hitRate: r.shared.cache.hitRate,
            compileMsPerPlan: r.shared.cache.compileMs / Math.max(r.shared.cache.misses, 1),
            plansCompiled: r.shared.cache.misses,
          },
        }
      : {}),
    load: [load0, loadavg()[0]!],
  };
  writeFileSync(done, `${JSON.stringify(summary, null, 2)}\n`);
  log(`  ${summary.children} children, best ${pct(summary.top[0]?.accuracy ?? Number.NaN)}%, ${summary.wallSeconds.toFixed(0)} s`);
  return summary;
}

/**
 * Trains a cell at the evaluation scale from `evalSeeds` initializations (each cached by canonical
 * hash and seed); the mean of their test accuracies. One training's own noise (about 1.5 points between
 * two initializations of the same cell, measured by bench/proxy-rank.ts) is as large as the
 * differences between strategies, so a cell's score is the mean of several.
 */
const evalFile = join(out, 'eval.jsonl');
const evalCache = new Map<string, { accuracy: number; seconds: number; params: number }>();
/** Every cell evaluated: its label and per-seed accuracies (for the spread between initializations). */
const evaluated = new Map<string, { label: string; accuracies: number[] }>();
async function evaluate(ds: Dataset, genotype: Genotype, label: string): Promise<number> {
  const hash = genotypeHash(genotype);
  const accuracies: number[] = [];
  for (let seed = 0; seed < evalSeeds; seed++) {
    let e = evalCache.get(`${hash}:${seed}`);
    if (!e) {
      log(`evaluate ${label} (${hash.slice(0, 10)}) at ${EVAL.cellsPerStack}@${EVAL.filters * 24}, ${EVAL.batches} batches of ${EVAL.batchSize}, seed ${seed}`);
      e = await trainAtEvalScale(ds, genotype, EVAL, seed);
      evalCache.set(`${hash}:${seed}`, e);
      writeFileSync(evalFile, `${JSON.stringify({ hash, seed, label, ...e })}\n`, { flag: 'a' });
      log(`  test accuracy ${pct(e.accuracy)}% (${e.params} params, ${e.seconds.toFixed(0)} s)`);
    }
    accuracies.push(e.accuracy);
  }
  const prev = evaluated.get(hash);
  evaluated.set(hash, { label: prev && prev.label !== label ? `${prev.label}; ${label}` : label, accuracies });
  return mean(accuracies);
}

/** A SharedSupernet holding a finished shared run's final weights. */
function supernetOf(runDir: string, ds: Dataset, seed: number): SharedSupernet {
  const net = new SharedSupernet({
    network: { cellsPerStack: PROXY.cellsPerStack, filters: PROXY.filters, stemMultiplier: PROXY.stemMultiplier, numClasses: ds.info.classes, inputSize: [ds.info.height, ds.info.width], inputChannels: ds.info.channels },
    batchSize: PROXY.batchSize,
    scoreBatch: SHARED.scoreImages,
    seed,
  });
  for (const [name, t] of readCheckpoint(join(runDir, 'shared.safetensors')).tensors) net.store.set(name, t.data, t.shape);
  return net;
}

/** The mean score of children on the first `finalScoreImages` validation images with a supernet's weights. */
async function sharedScore(net: SharedSupernet, ds: Dataset, g: Genotype): Promise<number> {
  const n = SHARED.scoreImages;
  const batches = Math.min(SHARED.finalScoreImages / n, Math.floor(ds.validation.size / n));
  const loader = createLoader(ds.validation, { batchSize: n, dropLast: true });
  let correct = 0;
  let b = 0;
  for await (const batch of loader.epoch(0)) {
    if (b++ >= batches) break;
    correct += (await net.score(g, batch.images, batch.labels)).correct;
  }
  return correct / (batches * n);
}

async function main(): Promise<void> {
  mkdirSync(out, { recursive: true });
  const t0 = performance.now();
  const load = [loadavg()[0]!];
  if (existsSync(evalFile)) {
    for (const line of readFileSync(evalFile, 'utf8').trim().split('\n').filter(Boolean)) {
      const e = JSON.parse(line);
      evalCache.set(`${e.hash}:${e.seed ?? 0}`, e); // lines written before --eval-seeds have no seed: seed 0
    }
  }
  const ds = await cachedDataset(a.dataset!);
  log(`${a.dataset}: ${ds.train.size} training, ${ds.validation.size} validation, ${ds.test.size} test images; budget ${budget} s per run`);

  // 1-2. Searches.
  const runs: RunSummary[] = [];
  for (const seed of seeds) for (const { mode, strategy } of configs) runs.push(await search(seed, mode, strategy));
  load.push(loadavg()[0]!);

  // 3. Evaluation at one scale.
  const evals = new Map<RunSummary, number>();
  for (const r of runs) if (r.top[0]) evals.set(r, await evaluate(ds, r.top[0].genotype, `${r.mode} ${r.strategy} s${r.seed}`));
  const randomCells: number[] = [];
  for (const seed of seeds) randomCells.push(await evaluate(ds, createStrategy('random', { seed: 1000 + seed }).propose(1)[0]!.genotype, `random cell ${1000 + seed}`));
  if (a.partial) return;
  const nasnetA = await evaluate(ds, NASNET_A, 'NASNet-A');

  // 4. Kendall τ on uniformly random children: final shared weights against standalone proxy training.
  let tau: { runDir: string; tau: number; children: { hash: string; shared: number; standalone: number }[] } | undefined;
  const tauRun = runs.find((r) => r.mode === 'shared' && r.strategy === 'random') ?? runs.find((r) => r.mode === 'shared');
  if (tauRun && tauSample > 1) {
    const runDir = join(out, 'runs', `shared-${tauRun.strategy}-s${tauRun.seed}`);
    const tauFile = join(out, 'tau.json');
    tau = existsSync(tauFile) ? JSON.parse(readFileSync(tauFile, 'utf8')) : undefined;
    if (!tau || tau.runDir !== runDir || tau.children.length !== tauSample) {
      log(`Kendall τ: ${tauSample} uniformly random children, shared weights of ${runDir} against standalone proxy training`);
      const net = supernetOf(runDir, ds, tauRun.seed);
      const kids = createStrategy('random', { seed: 4242 }).sample!(tauSample);
      const children: { hash: string; shared: number; standalone: number }[] = [];
      for (const [i, g] of kids.entries()) {
        const shared = await sharedScore(net, ds, g);
        const hash = genotypeHash(g);
        const r = await trainChild({ runId: 'tau', id: i, genotype: g, hash, seed: 4242 + i, dataset: a.dataset!, proxy: PROXY });
        children.push({ hash, shared, standalone: r.accuracy });
        log(`  child ${i}: shared ${pct(shared)}%, standalone ${pct(r.accuracy)}%`);
      }
      net.dispose();
      tau = { runDir, tau: kendallTau(children.map((c) => c.shared), children.map((c) => c.standalone)), children };
      writeFileSync(tauFile, `${JSON.stringify(tau, null, 2)}\n`);
    }
  }

  // 5. The controller on real data.
  const group = strategyOptions('shared', 'ppo').updateEvery as number;
  const perUpdate = runs
    .filter((r) => r.mode === 'shared')
    .map((r) => {
      const h = new RunDir(join(out, 'runs', `shared-${r.strategy}-s${r.seed}`))
        .history()
        .filter((x) => x.scoredBy === 'shared' && !x.rejected)
        .sort((p, q) => p.id - q.id);
      const n = Math.floor(h.length / group);
      const x = Array.from({ length: n }, (_, k) => k + 1);
      return { label: `${r.strategy} s${r.seed}`, x, y: x.map((k) => mean(h.slice((k - 1) * group, k * group).map((e) => e.reward))) };
    })
    .filter((c) => c.x.length > 0);
  if (perUpdate.length) {
    writeFileSync(
      join(out, 'controller.svg'),
      linesSvg(perUpdate, `mean shared-weight score of each PPO update's ${group} children (${a.dataset})`, `PPO update (${group} children)`, 'mean validation accuracy (shared weights)'),
    );
  }
  let policy: { initial: number[]; final: number[]; uniform: number[] } | undefined;
  const ppoShared = runs.find((r) => r.mode === 'shared' && r.strategy === 'ppo');
  if (ppoShared) {
    const policyFile = join(out, 'policy.json');
    const runDir = join(out, 'runs', `shared-ppo-s${ppoShared.seed}`);
    policy = existsSync(policyFile) ? JSON.parse(readFileSync(policyFile, 'utf8')) : undefined;
    if (!policy) {
      log(`policy check: children of the initial and the final PPO policy and uniform ones on the final shared weights of ${runDir}`);
      const n = quick ? 8 : 32;
      const net = supernetOf(runDir, ds, ppoShared.seed);
      const final = restoreStrategy(readCheckpoint(join(runDir, 'shared.safetensors')).meta.strategy as StrategyState);
      const initial = createStrategy('ppo', { seed: ppoShared.seed, ...strategyOptions('shared', 'ppo') } as never);
      const uniform = createStrategy('random', { seed: 99 });
      policy = { initial: [], final: [], uniform: [] };
      for (const [key, s] of [['initial', initial], ['final', final], ['uniform', uniform]] as const) {
        for (const g of s.sample!(n)) policy[key].push(await sharedScore(net, ds, g));
      }
      net.dispose();
      writeFileSync(policyFile, `${JSON.stringify(policy)}\n`);
    }
  }

  // The report.
  const rows: string[] = [
    `| ${'configuration'.padEnd(22)} | children | proxy best (%) | proxy top-5 mean (%) | eval test acc. of best (%) | per seed (%) |`,
    '|---|---|---|---|---|---|',
  ];
  const table: Record<string, unknown>[] = [];
  for (const { mode, strategy } of configs) {
    const rs = runs.filter((r) => r.mode === mode && r.strategy === strategy);
    const best = rs.map((r) => r.top[0]?.accuracy ?? Number.NaN);
    const top5 = rs.map((r) => mean(r.top.map((t) => t.accuracy)));
    const ev = rs.map((r) => evals.get(r) ?? Number.NaN);
    const kids = mean(rs.map((r) => r.children));
    table.push({ mode, strategy, children: kids, best, top5, eval: ev });
    rows.push(
      `| ${`${strategy}, ${mode}`.padEnd(22)} | ${kids.toFixed(0)} | ${pct(mean(best))} ± ${pct(sd(best))} | ${pct(mean(top5))} ± ${pct(sd(top5))} | ${pct(mean(ev))} ± ${pct(sd(ev))} | ${ev.map(pct).join(', ')} |`,
    );
  }
  rows.push(`| ${'NASNet-A'.padEnd(22)} | - | - | - | ${pct(nasnetA)} | |`);
  rows.push(`| ${'random cell'.padEnd(22)} | - | - | - | ${pct(mean(randomCells))} ± ${pct(sd(randomCells))} | ${randomCells.map(pct).join(', ')} |`);
  const wall = (performance.now() - t0) / 1000;
  /** The standard deviation between one cell's evaluations, averaged over the cells. */
  const evalNoise = mean([...evaluated.values()].map((e) => sd(e.accuracies)));
  const notes = [
    `budget ${budget} s per search run; seeds ${seeds.join(', ')}; ${a.dataset}; proxy ${PROXY.cellsPerStack}@${PROXY.filters * 24}, ${PROXY.maxBatchesPerEpoch} batches of ${PROXY.batchSize}, validation on ${PROXY.maxValidationImages} images${proxyRepeats > 1 ? `, the mean of ${proxyRepeats} trainings per child` : ''};`,
    `evaluation ${EVAL.cellsPerStack}@${EVAL.filters * 24}, ${EVAL.batches} batches of ${EVAL.batchSize} (lr ${EVAL.lr}, cosine), test accuracy on ${EVAL.testImages} images, the mean of ${evalSeeds} initialization${evalSeeds > 1 ? 's' : ''} per cell; ± is the standard deviation over search seeds.`,
    evalSeeds > 1
      ? `one evaluation's own noise: standard deviation between the ${evalSeeds} initializations of a cell, mean over ${evaluated.size} cells ${pct(evalNoise)} points (so a cell's mean has about ${pct(evalNoise / Math.sqrt(evalSeeds))})`
      : '',
    tau ? `Kendall τ (shared-weight score vs standalone proxy accuracy, ${tau.children.length} uniformly random children, ${tau.runDir}): ${tau.tau.toFixed(3)}` : '',
    policy
      ? `final shared weights of the PPO run, ${policy.final.length} children each: initial policy ${pct(mean(policy.initial))}%, final policy ${pct(mean(policy.final))}% (± ${pct(sd(policy.final) / Math.sqrt(policy.final.length))} s.e.), uniform ${pct(mean(policy.uniform))}%`
      : '',
    ...perUpdate.map((c) => `mean shared score per ${group} children, ${c.label}: ${c.y.map(pct).join(', ')}`),
    ...runs.filter((r) => r.shared).map((r) => `shared ${r.strategy} s${r.seed}: ${r.shared!.steps} steps, ${r.shared!.rounds} rounds, plan cache ${pct(r.shared!.hitRate)}% hits, ${r.shared!.plansCompiled} plans compiled, ${r.shared!.compileMsPerPlan.toFixed(0)} ms each`),
    `wall clock of the search runs against the ${budget} s budget: ${modes.map((m) => { const w = runs.filter((r) => r.mode === m).map((r) => r.wallSeconds); return `${m} ${Math.min(...w).toFixed(0)}–${Math.max(...w).toFixed(0)} s`; }).join(', ')}`,
    ...runs.filter((r) => r.rungs).map((r) => `halving ${r.strategy} s${r.seed}: children per rung ${r.rungs!.join(' / ')}`),
    `wall clock ${(wall / 60).toFixed(1)} min this invocation; load average (1 min) ${load.map((l) => l.toFixed(1)).join(' → ')} → ${loadavg()[0]!.toFixed(1)}`,
  ].filter(Boolean);
  const md = `${rows.join('\n')}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n`;
  writeFileSync(join(out, 'quality.md'), md);
  writeFileSync(join(out, 'quality.json'), `${JSON.stringify({ budget, seeds, configs, proxy: PROXY, eval: EVAL, shared: SHARED, strategyOptions: Object.fromEntries(configs.map(({ mode, strategy }) => [`${mode}:${strategy}`, strategyOptions(mode, strategy)])), runs, table, nasnetA, randomCells, evalSeeds, proxyRepeats, evaluations: Object.fromEntries(evaluated), tau, policy, wallSeconds: wall }, null, 2)}\n`);
  const cats = [
    ...configs.map(({ mode, strategy }) => ({ label: `${strategy} ${mode}`, values: runs.filter((r) => r.mode === mode && r.strategy === strategy).map((r) => evals.get(r) ?? Number.NaN).filter(Number.isFinite) })),
    { label: 'NASNet-A', values: [nasnetA] },
    { label: 'random cell', values: randomCells },
  ];
  writeFileSync(join(out, 'quality.svg'), dotsSvg(cats, `test accuracy at ${EVAL.cellsPerStack}@${EVAL.filters * 24} of each run's best cell (${budget} s per search)`, 'test accuracy'));
  process.stdout.write(md);
}

await main();
