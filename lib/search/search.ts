import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import { drawCell } from '../cells/draw.js';
import { genotypeHash, validateGenotype } from '../cells/genotype.js';
import type { Genotype } from '../cells/genotype-types.js';
import { createStrategy, restoreStrategy, type StrategyState } from '../controller/create-strategy.js';
import { type SearchStrategy, STRATEGY_NAMES, type StrategyName } from '../controller/strategy.js';
import { ValidationError } from '../errors.js';
import { checkChoice, checkInteger } from '../util/check.js';
import { createBullmqExecutor } from './bullmq-executor.js';
import { cachedDataset, childCounts } from './child.js';
import type { ChildExecutor } from './executor.js';
import { createLocalExecutor } from './local-executor.js';
import { rewardPlotSvg } from './plot.js';
import { RunDir } from './run-dir.js';
import type { ChildJob, ChildResult, HistoryEntry, ProxyConfig } from './types.js';

/** The paper's proxy child: N = 2, F = 32, 20 epochs, cosine LR. */
export const PAPER_PROXY: ProxyConfig = {
  cellsPerStack: 2,
  filters: 32,
  stemMultiplier: 3,
  epochs: 20,
  batchSize: 32,
  lr: 0.025,
  weightDecay: 5e-4,
  dropPathKeep: 1,
  auxHead: false,
  maxBatchesPerEpoch: 0,
  maxValidationImages: 0,
};

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
  /** Options passed to the strategy (learning rate, population, ...). */
  strategyOptions?: Record<string, unknown>;
  /** Children to evaluate in all; default 20. */
  children?: number;
  /** Blocks per cell; default 5. */
  blocks?: number;
  /** The proxy training of each child; default {@link PAPER_PROXY}. */
  proxy?: Partial<ProxyConfig>;
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
}

/** What {@link searchCells} returns. */
export interface SearchResult {
  /** The child with the highest reward. */
  best: HistoryEntry;
  /** Every child, in the order they finished. */
  history: HistoryEntry[];
  /** The run folder. */
  runDir: string;
}

interface StoredConfig {
  version: 1;
  runId: string;
  dataset: string;
  dataDir?: string;
  strategy: StrategyName;
  strategyOptions: Record<string, unknown>;
  children: number;
  blocks: number;
  proxy: ProxyConfig;
  seed: number;
  constraints: { maxParams?: number; maxMultAdds?: number };
}

function resolveConfig(o: SearchOptions, runId: string): StoredConfig {
  const proxy: ProxyConfig = { ...PAPER_PROXY, ...(o.proxy ?? {}) };
  for (const k of ['cellsPerStack', 'filters', 'epochs', 'batchSize'] as const) checkInteger(proxy[k], `proxy.${k}`);
  return {
    version: 1,
    runId,
    dataset: o.dataset ?? 'fashion-mnist-mini',
    dataDir: o.dataDir,
    strategy: typeof o.strategy === 'object' ? o.strategy.name : checkChoice(o.strategy ?? 'ppo', 'strategy', STRATEGY_NAMES),
    strategyOptions: o.strategyOptions ?? {},
    children: checkInteger(o.children ?? 20, 'children'),
    blocks: checkInteger(o.blocks ?? 5, 'blocks'),
    proxy,
    seed: checkInteger(o.seed ?? 0, 'seed', { min: 0 }),
    constraints: o.constraints ?? {},
  };
}

function makeExecutor(o: SearchOptions): ChildExecutor {
  const spec = o.executor ?? { kind: 'local', concurrency: o.concurrency ?? 1 };
  if (spec.kind === 'custom') return spec.executor;
  if (spec.kind === 'bullmq') return createBullmqExecutor({ redis: spec.redis, queue: spec.queue, concurrency: spec.concurrency });
  return createLocalExecutor({ concurrency: spec.concurrency ?? o.concurrency ?? 1, isolation: spec.isolation });
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
  const runPath = resolve(options.runDir ?? defaultRunDir());
  const run = new RunDir(runPath);
  let config: StoredConfig;
  if (options.resume && run.exists()) {
    config = run.readJson<StoredConfig>('config.json')!;
  } else {
    if (run.exists()) throw new ValidationError(`run folder ${runPath} already holds a search: pass resume: true (--resume) or choose another runDir`);
    run.create();
    config = resolveConfig(options, runPath.split('/').pop() ?? 'run');
    run.writeJson('config.json', config);
  }
  const reward = options.reward ?? ((r: ChildResult) => r.accuracy);

  // The strategy: restored from its saved state, or new.
  const saved = run.readJson<StrategyState>('strategy.json');
  let strategy: SearchStrategy;
  if (typeof options.strategy === 'object') {
    strategy = options.strategy;
    if (saved) strategy.load(saved);
  } else {
    strategy = saved
      ? restoreStrategy(saved)
      : createStrategy(config.strategy, { seed: config.seed, blocks: config.blocks, ...config.strategyOptions } as never);
  }
  const saveStrategy = () => run.writeJson('strategy.json', strategy.state());

  const history = run.history();
  const byHash = new Map<string, HistoryEntry>();
  for (const h of history) if (!h.error && !h.duplicateOf && !h.rejected) byHash.set(h.hash, h);
  const proposals = new Map<number, Genotype>();
  for (const p of run.readLines<{ id: number; genotype: Genotype }>('proposals.jsonl')) proposals.set(p.id, p.genotype);

  // Reconcile: children recorded in history whose reward the saved strategy has not seen yet.
  const pendingIds = (): number[] => strategy.state().pending.map((p) => p.id);
  const recorded = new Map(history.map((h) => [h.id, h]));
  const unseen = pendingIds().filter((id) => recorded.has(id));
  if (unseen.length > 0) {
    strategy.observe(unseen.map((id) => ({ id, genotype: recorded.get(id)!.genotype, reward: recorded.get(id)!.reward })));
    saveStrategy();
  }
  const resubmit = pendingIds().filter((id) => !recorded.has(id));
  for (const id of resubmit) {
    if (!proposals.has(id)) throw new ValidationError(`${run.file('proposals.jsonl')}: pending child ${id} has no proposal line`);
  }

  const dataset = await cachedDataset(config.dataset, config.dataDir);
  const executor = makeExecutor(options);
  let best: HistoryEntry | undefined = history.reduce<HistoryEntry | undefined>((b, h) => (!b || h.reward > b.reward ? h : b), undefined);
  const t0 = performance.now();
  const doneAtStart = history.length;
  const bar = options.progress
    ? new SingleBar({
        format: 'children |{bar}| {value}/{total} | best {best} | {rate} children/h{queue} | ETA {eta_formatted}',
        stream: process.stderr,
        hideCursor: false,
        fps: 2,
      })
    : undefined;
  // Distributed executors describe their queue (workers, queued, training).
  const queueInfo = () => (executor.progressInfo?.() || '').replace(/^(.)/, ' | $1');
  bar?.start(config.children, history.length, { best: best ? best.reward.toFixed(4) : '-', rate: '-', queue: queueInfo() });

  const finish = (id: number, genotype: Genotype, hash: string, result: ChildResult, extra: Partial<HistoryEntry>) => {
    const r = result.error || result.diverged ? 0 : reward(result, genotype);
    const entry: HistoryEntry = {
      ...result,
      id,
      index: history.length,
      genotype,
      hash,
      reward: Number.isFinite(r) ? r : 0,
      strategy: config.strategy,
      finishedAt: new Date().toISOString(),
      ...extra,
    };
    run.appendLine('history.jsonl', entry); // flushed before the strategy uses the reward
    history.push(entry);
    if (!entry.error && !entry.duplicateOf && !entry.rejected) byHash.set(hash, entry);
    strategy.observe([{ id, genotype, reward: entry.reward }]);
    saveStrategy();
    if (!best || entry.reward > best.reward) {
      best = entry;
      run.writeJson('best.json', { id: entry.id, reward: entry.reward, hash: entry.hash, genotype: entry.genotype });
    }
    const hours = (performance.now() - t0) / 3.6e6;
    bar?.update(history.length, { best: best.reward.toFixed(4), rate: ((history.length - doneAtStart) / Math.max(hours, 1e-9)).toFixed(1), queue: queueInfo() });
    options.onChild?.(entry);
  };

  // Children being trained, by canonical hash: a duplicate proposed meanwhile waits for the original.
  const training = new Map<string, { id: number; result: Promise<ChildResult> }>();
  const evaluate = async (id: number, genotype: Genotype): Promise<void> => {
    const hash = genotypeHash(genotype);
    const running = training.get(hash);
    if (running) {
      const r = await running.result;
      if (!r.error) {
        finish(id, genotype, hash, { ...r, seconds: 0 }, { duplicateOf: running.id });
        return;
      }
    }
    const dup = byHash.get(hash);
    if (dup) {
      const { accuracy, curve, params, multAdds, diverged } = dup;
      finish(id, genotype, hash, { accuracy, curve, params, multAdds, diverged, seconds: 0 }, { duplicateOf: dup.id });
      return;
    }
    const job: ChildJob = { runId: config.runId, id, genotype, hash, seed: config.seed * 1_000_003 + id, dataset: config.dataset, dataDir: config.dataDir, proxy: config.proxy };
    const { maxParams, maxMultAdds } = config.constraints;
    if (maxParams !== undefined || maxMultAdds !== undefined) {
      const c = childCounts(job, dataset.info);
      const why =
        maxParams !== undefined && c.params > maxParams
          ? `params ${c.params} > maxParams ${maxParams}`
          : maxMultAdds !== undefined && c.multAdds > maxMultAdds
            ? `multAdds ${c.multAdds} > maxMultAdds ${maxMultAdds}`
            : undefined;
      if (why) {
        finish(id, genotype, hash, { accuracy: 0, curve: [], params: c.params, multAdds: c.multAdds, seconds: 0, diverged: false }, { rejected: why });
        return;
      }
    }
    const pending = executor.submit(job);
    training.set(hash, { id, result: pending });
    try {
      finish(id, genotype, hash, await pending, {});
    } finally {
      training.delete(hash);
    }
  };

  const inflight = new Set<Promise<void>>();
  const launch = (id: number, genotype: Genotype) => {
    const p: Promise<void> = evaluate(id, genotype).finally(() => inflight.delete(p));
    inflight.add(p);
  };
  try {
    for (const id of resubmit) launch(id, proposals.get(id)!);
    while (history.length < config.children) {
      while (inflight.size < executor.concurrency && history.length + inflight.size < config.children) {
        const [p] = strategy.propose(1);
        const genotype = validateGenotype(p.genotype);
        run.appendLine('proposals.jsonl', { id: p.id, genotype });
        saveStrategy();
        launch(p.id, genotype);
      }
      if (inflight.size === 0) break;
      await Promise.race(inflight);
    }
    await Promise.all(inflight);
  } finally {
    bar?.stop();
    await executor.close();
  }

  // Results a person can use.
  writeFileSync(run.file('reward.svg'), rewardPlotSvg([{ label: config.strategy, rewards: history.map((h) => h.reward) }], `${config.strategy} on ${config.dataset}`));
  const top = best!;
  writeFileSync(run.file('best-normal.svg'), drawCell(top.genotype, 'normal'));
  writeFileSync(run.file('best-reduction.svg'), drawCell(top.genotype, 'reduction'));
  writeFileSync(run.file('top.txt'), `${topTable(history, 10)}\n`);
  return { best: top, history, runDir: runPath };
}

/** The top-k children as a text table (rank, id, reward, params, mult-adds, seconds, hash). */
export { topTable };
