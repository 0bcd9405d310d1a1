import type { Command } from 'commander';
import { BACKEND_CHOICES } from '../backends.js';
import { STRATEGY_NAMES } from '../controller/strategy.js';
import type { Dashboard } from '../dashboard/server.js';
import { ValidationError } from '../errors.js';
import { defaultRunDir, searchCells, topTable } from '../search/search.js';
import { choiceArg, intArg, numArg } from '../util/check.js';
import { closeOnSignal, startCliDashboard } from './dashboard.js';

interface SearchCli {
  dataset: string;
  data?: string;
  strategy: string;
  children: number;
  blocks: number;
  n: number;
  filters: number;
  epochs: number;
  batch: number;
  lr: number;
  maxBatches: number;
  maxValidation: number;
  concurrency: number;
  seed: number;
  run?: string;
  resume?: string;
  maxParams?: number;
  maxMultAdds?: number;
  json?: boolean;
  redis?: string;
  queue: string;
  dashboard?: boolean;
  dashboardPort?: number;
  shared?: boolean;
  stepsPerRound: number;
  childrenPerRound: number;
  scoreImages: number;
  candidates: number;
  retrainTop: number;
  halving?: boolean;
  rungs: number;
  eta: number;
  maxSeconds?: number;
  backend?: string;
}

/** Registers `nasnet search`. */
export function registerSearch(program: Command): void {
  program
    .command('search')
    .description('search Normal and Reduction cells: a strategy proposes children, each trained on a proxy task')
    .option('--dataset <d>', 'proxy data set (default: the embedded Fashion-MNIST subset, no network needed)', 'fashion-mnist-mini')
    .option('--data <dir>', 'folder of the data set')
    .option('--strategy <s>', `${STRATEGY_NAMES.join(', ')}`, 'ppo')
    .option('--children <k>', 'children to evaluate', intArg('--children'), 20)
    .option('--blocks <B>', 'blocks per cell', intArg('--blocks'), 5)
    .option('--n <N>', 'proxy: normal cells per stack', intArg('--n'), 1)
    .option('--filters <F>', 'proxy: filters of the first stack', intArg('--filters'), 8)
    .option('--epochs <E>', 'proxy: epochs per child', intArg('--epochs'), 1)
    .option('--batch <B>', 'proxy: batch size', intArg('--batch'), 32)
    .option('--lr <lr>', 'proxy: initial learning rate', numArg('--lr'), 0.05)
    .option('--max-batches <k>', 'proxy: at most k batches per epoch (0 = all)', intArg('--max-batches'), 0)
    .option('--max-validation <k>', 'proxy: validate on at most k images (0 = all)', intArg('--max-validation'), 0)
    .option('--concurrency <c>', 'children trained at once (cores are split)', intArg('--concurrency'), 1)
    .option('--backend <b>', 'where children train: cpu, cuda or auto (default NASNET_BACKEND, else cpu; not part of the run: --resume may change it; with --redis each worker chooses)')
    .option('--seed <s>', 'seed', intArg('--seed'), 0)
    .option('--run <dir>', 'run folder (default runs/<date-time>)')
    .option('--resume <dir>', 'continue the search in this run folder')
    .option('--max-params <n>', 'reject children with more parameters', intArg('--max-params'))
    .option('--max-mult-adds <n>', 'reject children with more multiply-adds', intArg('--max-mult-adds'))
    .option('--json', 'print the result as JSON')
    .option('--redis <url>', 'train children on `nasnet worker` machines through this Redis (BullMQ), e.g. redis://10.0.0.5:6379')
    .option('--queue <name>', 'BullMQ queue name (with --redis)', 'nasnet')
    .option('--dashboard', 'serve a live web page of this search on 127.0.0.1 (prints its URL; stays up after the search until Ctrl-C)')
    .option('--dashboard-port <p>', 'port of --dashboard (default 6060, or the next free one)', intArg('--dashboard-port'))
    .option('--shared', 'weight sharing (ENAS): children share one set of weights and are scored on a validation batch; the best are retrained standalone')
    .option('--steps-per-round <k>', 'shared: training steps of the shared weights per round', intArg('--steps-per-round'), 50)
    .option('--children-per-round <k>', 'shared: children scored per round', intArg('--children-per-round'), 20)
    .option('--score-images <k>', 'shared: validation images per score', intArg('--score-images'), 256)
    .option('--candidates <k>', 'shared: children scored again on the final weights', intArg('--candidates'), 20)
    .option('--retrain-top <k>', 'shared: children retrained standalone at the end', intArg('--retrain-top'), 5)
    .option('--halving', 'asynchronous successive halving: children start at a small budget, the best 1/eta of each rung continue')
    .option('--rungs <k>', 'halving: rungs (the top one is the full proxy budget)', intArg('--rungs'), 3)
    .option('--eta <k>', 'halving: reduction factor', intArg('--eta'), 3)
    .option('--max-seconds <s>', 'wall-clock budget of this call, final phases included: no unit of work starts that is not expected to end within it', numArg('--max-seconds'))
    .action(async (o: SearchCli) => {
      const strategy = choiceArg(o.strategy, '--strategy', STRATEGY_NAMES);
      if (o.shared && o.halving) throw new ValidationError('--shared and --halving: choose one (halving budgets standalone children)');
      const constraints = o.maxParams !== undefined || o.maxMultAdds !== undefined ? { maxParams: o.maxParams, maxMultAdds: o.maxMultAdds } : undefined;
      const runDir = o.resume ?? o.run ?? (o.dashboard ? defaultRunDir() : undefined);
      let dash: Dashboard | undefined;
      if (o.dashboard) {
        dash = await startCliDashboard(program, { runs: [runDir!], port: o.dashboardPort, allowMissing: true, redis: o.redis, queue: o.queue });
      }
      const r = await searchCells({
        dataset: o.dataset,
        dataDir: o.data,
        strategy,
        children: o.children,
        blocks: o.blocks,
        proxy: {
          cellsPerStack: o.n,
          filters: o.filters,
          epochs: o.epochs,
          batchSize: o.batch,
          lr: o.lr,
          maxBatchesPerEpoch: o.maxBatches,
          maxValidationImages: o.maxValidation,
          backend: o.backend === undefined ? undefined : choiceArg(o.backend, '--backend', BACKEND_CHOICES),
        },
        concurrency: o.concurrency,
        executor: o.redis !== undefined ? { kind: 'bullmq', redis: o.redis, queue: o.queue } : undefined,
        seed: o.seed,
        runDir,
        resume: o.resume !== undefined,
        constraints,
        progress: !o.json,
        mode: o.shared ? 'shared' : 'standalone',
        shared: o.shared
          ? { stepsPerRound: o.stepsPerRound, childrenPerRound: o.childrenPerRound, scoreImages: o.scoreImages, candidates: o.candidates, retrainTop: o.retrainTop }
          : undefined,
        schedule: o.halving ? { kind: 'halving', rungs: o.rungs, eta: o.eta } : undefined,
        maxSeconds: o.maxSeconds,
      }).catch(async (err: unknown) => {
        await dash?.close();
        throw err;
      });
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ runDir: r.runDir, best: r.best, children: r.history.length, retrained: r.retrained, shared: r.shared, stopped: r.stopped })}\n`);
      } else {
        const table = r.retrained ? `retrained standalone:\n${topTable(r.retrained, 5)}` : topTable(r.history, 5);
        const cache = r.shared
          ? `\nshared weights: ${r.shared.steps} steps in ${r.shared.rounds} rounds; plan cache ${(100 * r.shared.cache.hitRate).toFixed(1)}% hits, ${r.shared.cache.misses} plans compiled in ${(r.shared.cache.compileMs / 1000).toFixed(1)} s\n`
          : '';
        process.stdout.write(
          `\n${table}\n${cache}\nbest child ${r.best.id}: reward ${r.best.reward.toFixed(4)}${r.best.scoredBy === 'standalone' && r.best.sharedScore !== undefined ? ' (standalone)' : ''}\n` +
            `run folder: ${r.runDir} (history.jsonl, reward.svg, best-normal.svg, best-reduction.svg, best.json)\n` +
            `train it at the paper's scales with the paper's recipes (--dry-run first shows the counts beside NASNet-A and the step count):\n` +
            `  nasnet transfer ${r.runDir}/best.json --to cifar\n` +
            `  nasnet transfer ${r.runDir}/best.json --to mobile --match-params nasnet-a --data /path/to/imagenet\n`,
        );
      }
      if (dash) {
        process.stderr.write(`nasnet dashboard: the search is done; the page stays at ${dash.url} until Ctrl-C\n`);
        await closeOnSignal(dash);
      }
    });
}
