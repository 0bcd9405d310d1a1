import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import { BACKEND_CHOICES, type BackendChoice } from '../backends.js';
import { drawCell } from '../cells/draw.js';
import type { Genotype } from '../cells/genotype-types.js';
import { createStrategy, restoreStrategy, type StrategyState } from '../controller/create-strategy.js';
import { ENAS_CONTROLLER } from '../controller/paper.js';
import { sizedStrategyOptions } from '../controller/sized.js';
import type { SearchStrategy, StrategyName } from '../controller/strategy.js';
import { ValidationError } from '../errors.js';
import { checkChoice, checkNumber } from '../util/check.js';
import { TimeBudget } from './budget.js';
import { createBullmqExecutor } from './bullmq-executor.js';
import { cachedDataset } from './child.js';
import { checkStoredConfig, PAPER_PROXY, type ProxyOptions, resolveConfig, type SharedOptions, type StoredConfig } from './config.js';
import type { SearchContext } from './context.js';
import type { ChildExecutor } from './executor.js';
import type { Schedule } from './halving.js';
import { createLocalExecutor } from './local-executor.js';
import type { PlanCacheStats } from './plan-cache.js';
import { rewardPlotSvg } from './plot.js';
import { SearchRecorder } from './recorder.js';
import { RunDir } from './run-dir.js';
import { runShared } from './shared-search.js';
import { runStandalone } from './standalone.js';
import { checkRedisReachable } from './status.js';
import type { ChildResult, HistoryEntry } from './types.js';

export { PAPER_PROXY };

/** The run folder of a search given none: `runs/<date-time>` (e.g. `runs/2026-11-30T11-53-02-123Z`). */
export function defaultRunDir(): string {
  return join('runs', new Date().toISOString().replace(/[:.]/g, '-'));
}

/** Where children are trained. */
export type ExecutorSpec =
  | { kind: 'local'; concurrency?: number; isolation?: 'process' | 'inline' }
  | { kind: 'bullmq'; redis: string; queue?: string; concurrency?: number }
  | { kind: 'custom'; executor: ChildExecutor };

/** Options of {@link searchCells}. */
export interface SearchOptions {
  /** Data set of the proxy task (registry name); default 'fashion-mnist-mini' (embedded, no network). */
  dataset?: string;
  /** Folder of the data set. */
  dataDir?: string;
  /** 'ppo' (default, the paper's), 'reinforce', 'random' or 'evolution' — or your own {@link SearchStrategy}. */
  strategy?: StrategyName | SearchStrategy;
  /**
   * Options passed to the strategy (learning rate, population, ...). Sizes left unset fit `children`
   * ({@link sizedStrategyOptions}): evolution's population ⌈children / 4⌉ in [4, 64] and tournament
   * ⌈population / 4⌉ (at least 2); PPO and REINFORCE update every ⌈children / 10⌉ children, in [5, 20].
   * In the shared mode, PPO and REINFORCE default to ENAS's controller ({@link ENAS_CONTROLLER}).
   */
  strategyOptions?: Record<string, unknown>;
  /** Children to evaluate in all; default 20. */
  children?: number;
  /** Blocks per cell; default 5. */
  blocks?: number;
  /**
   * The proxy training of each child; default {@link PAPER_PROXY}. `backend` ('cpu', 'cuda' or
   * 'auto') says where this call trains (local worker processes get it as NASNET_BACKEND; the shared
   * weights too); default NASNET_BACKEND, else 'cpu'. It is not stored: a resumed run may change it.
   */
  proxy?: ProxyOptions;
  /** Where children train; default local worker processes. */
  executor?: ExecutorSpec;
  /** Children trained at once by the default local executor; default 1. */
  concurrency?: number;
  /** Seed of the strategy and of every child; default 0. */
  seed?: number;
  /** The run folder; default `runs/<date-time>`. */
  runDir?: string;
  /** Continue the search in `runDir`; its config.json wins over these options. */
  resume?: boolean;
  /** Reward of a trained child; default its final validation accuracy. */
  reward?: (result: ChildResult, genotype: Genotype) => number;
  /** Children over these limits (of the proxy network) are rejected before training, with reward 0. */
  constraints?: { maxParams?: number; maxMultAdds?: number };
  /** Show a progress bar on stderr; default false. */
  progress?: boolean;
  /** Called after each child is recorded. */
  onChild?: (entry: HistoryEntry) => void;
  /**
   * 'standalone' (default): every child is trained by itself on the proxy task. 'shared': the
   * children share one set of weights (ENAS): the search alternates training them on children
   * sampled from the strategy and scoring children on a validation batch for the strategy, then
   * retrains the best standalone (see {@link SharedOptions}).
   */
  mode?: 'standalone' | 'shared';
  /** Standalone mode: `{ kind: 'halving', rungs, eta }` for asynchronous successive halving; default one budget per child. */
  schedule?: Schedule;
  /** Shared mode's options. */
  shared?: SharedOptions;
  /**
   * Wall-clock budget of this call, in seconds, the same rule in every mode: a unit of work (a child,
   * a rung under halving; in the shared mode a training step, a score, a final re-score, a standalone
   * retraining) starts only when it is expected to end within the budget, together with the final
   * phase the shared mode must still run after it. Expectations are the mean time of the units of that
   * kind finished so far in this call (the shared mode estimates its first retraining from its step
   * and score times). Units in flight finish; a search always trains (standalone) or scores and
   * retrains (shared) at least one child. A resumed search gets a new budget.
   */
  maxSeconds?: number;
}

/** What {@link searchCells} returns. */
export interface SearchResult {
  /** The child with the highest reward. */
  best: HistoryEntry;
  /** Every child, in the order they finished. */
  history: HistoryEntry[];
  /** The run folder. */
  runDir: string;
  /** Shared mode: the children retrained standalone at the end, best first (`best` is the first). */
  retrained?: HistoryEntry[];
  /** Shared mode: what the plan cache did (compile time, hit rate) and the shared-weight steps taken. */
  shared?: SharedSummary;
  /** Why the search stopped before `children` children: 'time' when `maxSeconds` ran out. */
  stopped?: 'time';
}

/** What the shared mode reports about its run (also written to `shared.json`). */
export interface SharedSummary {
  /** Training steps of the shared weights. */
  steps: number;
  /** Rounds completed. */
  rounds: number;
  /** Plan cache: hits, misses, evictions, compile milliseconds, entries and bytes held (this call). */
  cache: PlanCacheStats;
  /** Seconds spent training the shared weights, scoring children, and retraining standalone (this call). */
  seconds: { train: number; score: number; retrain: number };
}

/** Where this call trains: `proxy.backend`, checked; only the local executor takes one. */
function callBackend(o: SearchOptions): BackendChoice | undefined {
  const b = o.proxy?.backend;
  if (b === undefined) return undefined;
  const backend = checkChoice(b, 'proxy.backend', BACKEND_CHOICES);
  const kind = o.executor?.kind ?? 'local';
  if (kind === 'bullmq') throw new ValidationError(`proxy.backend '${backend}': with the BullMQ executor each worker chooses its own (nasnet worker --backend)`);
  if (kind === 'custom') throw new ValidationError(`proxy.backend '${backend}': a custom executor chooses where it trains; pass backend to the local executor only`);
  return backend;
}

function makeExecutor(o: SearchOptions, backend: BackendChoice | undefined): ChildExecutor {
  const spec = o.executor ?? { kind: 'local', concurrency: o.concurrency ?? 1 };
  if (spec.kind === 'custom') return spec.executor;
  if (spec.kind === 'bullmq') return createBullmqExecutor({ redis: spec.redis, queue: spec.queue, concurrency: spec.concurrency });
  return createLocalExecutor({ concurrency: spec.concurrency ?? o.concurrency ?? 1, isolation: spec.isolation, backend });
}

function topTable(history: HistoryEntry[], k: number): string {
  const rows = [...history].sort((a, b) => b.reward - a.reward).slice(0, k);
  const lines = ['rank  child  reward   params    mult-adds  seconds  hash'];
  rows.forEach((h, i) => {
    lines.push(
      `${String(i + 1).padStart(4)}  ${String(h.id).padStart(5)}  ${h.reward.toFixed(4)}  ${String(h.params).padStart(8)}  ${String(h.multAdds).padStart(11)}  ${h.seconds.toFixed(1).padStart(7)}  ${h.hash.slice(0, 12)}`,
    );
  });
  return lines.join('\n');
}

/**
 * Searches for a Normal and a Reduction cell: a strategy (the paper's PPO-trained LSTM controller,
 * REINFORCE, random search or regularized evolution) proposes children; each is trained on the proxy
 * task by an executor; its validation accuracy is the reward. Everything needed to resume is in the
 * run folder; a killed search loses no finished child (`resume: true` continues it).
 *
 * @param options - see {@link SearchOptions}
 * @returns the best child, the whole history and the run folder
 * @example
 * const { best, runDir } = await searchCells({ strategy: 'ppo', children: 40, proxy: { epochs: 1 } });
 * console.log(best.reward, best.genotype);
 */
export async function searchCells(options: SearchOptions = {}): Promise<SearchResult> {
  const t0 = performance.now();
  const maxSeconds = options.maxSeconds === undefined ? Infinity : checkNumber(options.maxSeconds, 'maxSeconds', { min: 0 });
  const backend = callBackend(options);
  const runPath = resolve(options.runDir ?? defaultRunDir());
  const run = new RunDir(runPath);
  let config: StoredConfig;
  if (options.resume) {
    if (!existsSync(runPath)) throw new ValidationError(`run folder ${runPath} does not exist: there is no search to resume (drop resume / --resume to start one)`);
    if (!run.exists()) throw new ValidationError(`run folder ${runPath} holds no config.json: it is not a search run folder, nothing to resume`);
    run.checkFiles();
    config = checkStoredConfig(run.readJson<unknown>('config.json'), run.file('config.json'));
    // A kill can cut the last line of an appended file short: repaired before anything is appended.
    for (const name of ['proposals.jsonl', 'history.jsonl', 'rungs.jsonl']) {
      const repaired = run.repairTornLine(name);
      if (repaired) process.stderr.write(`nasnet search: ${repaired}\n`);
    }
  } else {
    if (run.exists()) throw new ValidationError(`run folder ${runPath} already holds a search: pass resume: true (--resume) or choose another runDir`);
    config = resolveConfig(options, runPath.split('/').pop() ?? 'run');
    // A queue that cannot be reached fails before the folder exists (no half-made run to --resume).
    if (options.executor?.kind === 'bullmq') await checkRedisReachable(options.executor.redis);
    await cachedDataset(config.dataset, config.dataDir); // an unknown or unloadable data set too
    run.create();
    run.writeJson('config.json', config);
  }
  const mode = config.mode ?? 'standalone';
  const reward = options.reward ?? ((r: ChildResult) => r.accuracy);

  // The strategy: new, then (standalone) restored from its saved state; the shared mode restores it from its checkpoint.
  // A state or options the strategy refuses: the error names the file they came from.
  const fromFile = <T>(file: string, make: () => T): T => {
    try {
      return make();
    } catch (err) {
      if (!options.resume || !(err instanceof ValidationError) || err.message.includes(runPath)) throw err;
      throw new ValidationError(`${run.file(file)}: ${err.message}`);
    }
  };
  let strategy: SearchStrategy;
  if (typeof options.strategy === 'object') {
    strategy = options.strategy;
  } else {
    // Sizes left unset fit the search's children (sized.ts); the shared mode's controller defaults
    // are ENAS's; the caller's options win.
    const sized = sizedStrategyOptions(config.strategy, config.children, config.strategyOptions);
    const given = config.strategyOptions as { controller?: Record<string, unknown> };
    const enas = mode === 'shared' && (config.strategy === 'ppo' || config.strategy === 'reinforce') ? { ...ENAS_CONTROLLER, controller: { ...ENAS_CONTROLLER.controller, ...given.controller } } : {};
    strategy = fromFile('config.json', () => createStrategy(config.strategy, { seed: config.seed, blocks: config.blocks, ...sized, ...enas, ...given, ...('controller' in enas ? { controller: enas.controller } : {}) } as never));
  }
  const saved = mode === 'standalone' ? run.readJson<StrategyState>('strategy.json') : undefined;
  if (saved) {
    if (typeof options.strategy === 'object') strategy.load(saved);
    else strategy = fromFile('strategy.json', () => restoreStrategy(saved));
  }

  const dataset = await cachedDataset(config.dataset, config.dataDir).catch((err: unknown) => {
    if (!options.resume || !(err instanceof Error) || err.message.includes(runPath)) throw err;
    throw new ValidationError(`${run.file('config.json')}: dataset ${JSON.stringify(config.dataset)}: ${err.message}`);
  });
  const executor = makeExecutor(options, backend);
  const bar =
    options.progress && mode === 'standalone'
      ? new SingleBar({
          format: 'children |{bar}| {value}/{total} | best {best} | {rate} children/h{queue} | ETA {eta_formatted}',
          stream: process.stderr,
          hideCursor: false,
          fps: 2,
        })
      : undefined;
  // Distributed executors describe their queue (workers, queued, training).
  const queueInfo = () => (executor.progressInfo?.() || '').replace(/^(.)/, ' | $1');
  let doneAtStart = 0;
  const recorder = new SearchRecorder({
    run,
    strategy,
    strategyName: config.strategy,
    reward,
    saveStrategy: mode === 'standalone' ? () => run.writeJson('strategy.json', strategy.state()) : null,
    onChild: (entry) => {
      const hours = (performance.now() - t0) / 3.6e6;
      bar?.update(recorder.history.length, {
        best: recorder.best!.reward.toFixed(4),
        rate: ((recorder.history.length - doneAtStart) / Math.max(hours, 1e-9)).toFixed(1),
        queue: queueInfo(),
      });
      options.onChild?.(entry);
    },
  });
  doneAtStart = recorder.history.length;
  bar?.start(config.children, doneAtStart, { best: recorder.best ? recorder.best.reward.toFixed(4) : '-', rate: '-', queue: queueInfo() });

  const ctx: SearchContext = {
    config,
    run,
    strategy,
    recorder,
    dataset,
    executor,
    budget: new TimeBudget(t0 + maxSeconds * 1000),
    log: options.progress ? (line) => process.stderr.write(`${line}\n`) : null,
    backend,
  };
  let shared: { retrained: HistoryEntry[]; summary: SharedSummary } | undefined;
  try {
    if (mode === 'shared') shared = await runShared(ctx);
    else await runStandalone(ctx);
  } finally {
    bar?.stop();
    await executor.close();
  }
  const history = recorder.history;
  if (history.length === 0) throw new ValidationError(`search in ${runPath} ended with no child (maxSeconds ${maxSeconds} too small?)`);

  // Results a person can use. In shared mode the best is the best child retrained standalone.
  const top = shared?.retrained[0] ?? recorder.best!;
  writeFileSync(run.file('reward.svg'), rewardPlotSvg([{ label: config.strategy, rewards: history.map((h) => h.reward) }], `${config.strategy}${mode === 'shared' ? ' (shared weights)' : ''} on ${config.dataset}`));
  writeFileSync(run.file('best-normal.svg'), drawCell(top.genotype, 'normal'));
  writeFileSync(run.file('best-reduction.svg'), drawCell(top.genotype, 'reduction'));
  const tables = shared
    ? `children retrained standalone (reward = standalone accuracy):\n${topTable(shared.retrained, shared.retrained.length)}\n\nchildren by shared-weight score:\n${topTable(history, 10)}\n`
    : `${topTable(history, 10)}\n`;
  writeFileSync(run.file('top.txt'), tables);
  return {
    best: top,
    history,
    runDir: runPath,
    ...(shared ? { retrained: shared.retrained, shared: shared.summary } : {}),
    ...(history.length < config.children ? { stopped: 'time' as const } : {}),
  };
}

/**
 * The top-k children as a text table (rank, id, reward, params, mult-adds, seconds, hash).
 * @param history - children
 * @param k - rows
 */
export { topTable };
