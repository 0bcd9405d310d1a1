/**
 * A search's configuration as stored in its run folder (`config.json`): what a resumed search
 * reads back. Defaults and checks live here.
 */
import type { BackendChoice } from '../backends.js';
import { STRATEGY_NAMES, type StrategyName } from '../controller/strategy.js';
import { ValidationError } from '../errors.js';
import { checkChoice, checkInteger, checkNumber, checkObject, checkString } from '../util/check.js';
import { type PlainSchedule, type ResolvedHalving, resolveSchedule, type Schedule } from './halving.js';
import { parseProxy } from './job-schema.js';
import type { PlanCacheOptions } from './plan-cache.js';
import type { ProxyConfig } from './types.js';

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

/**
 * The proxy options of a search call: any field of {@link ProxyConfig}, and `backend` ('cpu', 'cuda'
 * or 'auto'), where this call trains its children. The backend is a property of the machine, not of
 * the run: it is not stored in `config.json` nor part of any job id, so a run resumed with another
 * backend is the same run.
 */
export type ProxyOptions = Partial<ProxyConfig> & { backend?: BackendChoice };

/** Options of the weight-sharing mode (`mode: 'shared'`); every field has a default. */
export interface SharedOptions {
  /** Steps of the shared weights per round, each minibatch on a child sampled from the current policy; default 50. */
  stepsPerRound?: number;
  /**
   * Consecutive training steps on each sampled child (every round starts with a new one); default 1
   * (ENAS: a new child every minibatch).
   * More amortizes compiling the child's plan and its first step, which costs several warm steps.
   */
  stepsPerChild?: number;
  /** Children scored per round on the shared weights; the strategy observes them (PPO updates every `updateEvery`); default 20. */
  childrenPerRound?: number;
  /** Validation images each child is scored on (one batch; round r uses validation batch r); default 256. */
  scoreImages?: number;
  /** Learning rate of the shared weights (SGD, momentum 0.9); default the proxy's `lr`. */
  lr?: number;
  /** 'constant' (default) or 'cosine' decay over the planned rounds. */
  lrSchedule?: 'constant' | 'cosine';
  /** At the end, this many distinct children, the best by their round's score, are scored again on the final shared weights; default 20. */
  candidates?: number;
  /** Validation images of that final scoring (whole batches of `scoreImages`); default 1024. */
  finalScoreImages?: number;
  /** The best of them by final score are trained standalone from scratch with the proxy configuration and ranked by that; default 5. */
  retrainTop?: number;
  /** Save the shared weights, the strategy and the position every this many steps (and at the end of every phase); default 50. */
  checkpointEvery?: number;
  /** Bounds of the plan cache (training and scoring plans of distinct children); default 32 plans, 1 GiB. */
  planCache?: PlanCacheOptions;
}

/** {@link SharedOptions} with defaults applied. */
export interface ResolvedShared {
  stepsPerRound: number;
  stepsPerChild: number;
  childrenPerRound: number;
  scoreImages: number;
  lr: number;
  lrSchedule: 'constant' | 'cosine';
  candidates: number;
  finalScoreImages: number;
  retrainTop: number;
  checkpointEvery: number;
  planCache: { maxPlans: number; maxBytes: number };
}

/** What `config.json` holds. Runs written before modes existed lack `mode`, `schedule` and `shared`: standalone, plain. */
export interface StoredConfig {
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
  mode?: 'standalone' | 'shared';
  schedule?: PlainSchedule | ResolvedHalving;
  shared?: ResolvedShared;
}

/** The fields of the search options a stored configuration is made from. */
export interface ConfigInput {
  dataset?: string;
  dataDir?: string;
  strategy?: StrategyName | { name: StrategyName };
  strategyOptions?: Record<string, unknown>;
  children?: number;
  blocks?: number;
  proxy?: ProxyOptions;
  seed?: number;
  constraints?: { maxParams?: number; maxMultAdds?: number };
  mode?: 'standalone' | 'shared';
  schedule?: Schedule;
  shared?: SharedOptions;
}

/**
 * Applies defaults to the weight-sharing options and checks them.
 * @param o - the options
 * @param proxy - the proxy configuration (its learning rate is the default)
 */
export function resolveShared(o: SharedOptions, proxy: ProxyConfig): ResolvedShared {
  const scoreImages = checkInteger(o.scoreImages ?? 256, 'shared.scoreImages');
  return {
    stepsPerRound: checkInteger(o.stepsPerRound ?? 50, 'shared.stepsPerRound'),
    stepsPerChild: checkInteger(o.stepsPerChild ?? 1, 'shared.stepsPerChild'),
    childrenPerRound: checkInteger(o.childrenPerRound ?? 20, 'shared.childrenPerRound'),
    scoreImages,
    lr: checkNumber(o.lr ?? proxy.lr, 'shared.lr', { min: 0 }),
    lrSchedule: checkChoice(o.lrSchedule ?? 'constant', 'shared.lrSchedule', ['constant', 'cosine'] as const),
    candidates: checkInteger(o.candidates ?? 20, 'shared.candidates'),
    finalScoreImages: Math.max(scoreImages, scoreImages * Math.floor(checkInteger(o.finalScoreImages ?? 1024, 'shared.finalScoreImages') / scoreImages)),
    retrainTop: checkInteger(o.retrainTop ?? 5, 'shared.retrainTop', { min: 0 }),
    checkpointEvery: checkInteger(o.checkpointEvery ?? 50, 'shared.checkpointEvery'),
    planCache: {
      maxPlans: checkInteger(o.planCache?.maxPlans ?? 32, 'shared.planCache.maxPlans'),
      maxBytes: checkInteger(o.planCache?.maxBytes ?? 2 ** 30, 'shared.planCache.maxBytes'),
    },
  };
}

/**
 * The configuration a new search stores.
 * @param o - the search options
 * @param runId - the run folder's name
 */
export function resolveConfig(o: ConfigInput, runId: string): StoredConfig {
  const { backend: _where, ...given } = o.proxy === undefined ? {} : (checkObject(o.proxy, 'proxy') as ProxyOptions); // where children train is not part of the run
  const proxy = parseProxy({ ...PAPER_PROXY, ...given }, 'searchCells');
  const mode = checkChoice(o.mode ?? 'standalone', 'mode', ['standalone', 'shared'] as const);
  const schedule = resolveSchedule(o.schedule);
  if (mode === 'shared' && schedule.kind !== 'plain') {
    throw new ValidationError('schedule: successive halving budgets standalone children; the shared mode scores children on shared weights (use one or the other)');
  }
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
    constraints: checkConstraints(o.constraints),
    mode,
    schedule,
    ...(mode === 'shared' ? { shared: resolveShared(o.shared ?? {}, proxy) } : {}),
  };
}

/**
 * maxParams / maxMultAdds: positive integers when given.
 * @param value - the constraints of the options or of a config.json
 * @param where - who checks (a file), named in the message
 */
function checkConstraints(value: unknown, where?: string): StoredConfig['constraints'] {
  if (value === undefined) return {};
  const c = checkObject(value, 'constraints', { where, known: ['maxParams', 'maxMultAdds'] });
  const out: StoredConfig['constraints'] = {};
  for (const k of ['maxParams', 'maxMultAdds'] as const) if (c[k] !== undefined) out[k] = checkInteger(c[k], `constraints.${k}`, { where });
  return out;
}

const STORED_KEYS = [
  'version',
  'runId',
  'dataset',
  'dataDir',
  'strategy',
  'strategyOptions',
  'children',
  'blocks',
  'proxy',
  'seed',
  'constraints',
  'mode',
  'schedule',
  'shared',
] as const satisfies readonly (keyof StoredConfig)[];
/** Written by every version of config.json (the others came later, or are optional). */
const REQUIRED_KEYS = ['version', 'runId', 'dataset', 'strategy', 'strategyOptions', 'children', 'blocks', 'proxy', 'seed', 'constraints'] as const;

/**
 * The config.json of a run folder being resumed, checked field by field before anything else is read:
 * every field a search writes must be there (a missing one is damage, never a default), each of the
 * right type and range. Messages name the file.
 *
 * @param raw - the parsed file
 * @param where - the file's path
 * @returns the configuration
 * @throws ValidationError `runs/x/config.json: expected positive integer for children but received -2 of type number`
 */
export function checkStoredConfig(raw: unknown, where: string): StoredConfig {
  const c = checkObject(raw, 'the search configuration', { where, known: STORED_KEYS });
  if (c.version !== 1) throw new ValidationError(`${where}: version is ${JSON.stringify(c.version)}; this nasnet reads version 1`);
  for (const k of REQUIRED_KEYS) if (!(k in c)) throw new ValidationError(`${where}: the field ${k} is missing`);
  const proxy = checkObject(c.proxy, 'proxy', { where });
  for (const k of Object.keys(PAPER_PROXY)) if (!(k in proxy)) throw new ValidationError(`${where}: the field proxy.${k} is missing`);
  return {
    ...(c as unknown as StoredConfig),
    runId: checkString(c.runId, 'runId', { where }),
    dataset: checkString(c.dataset, 'dataset', { where }),
    ...(c.dataDir === undefined ? {} : { dataDir: checkString(c.dataDir, 'dataDir', { where }) }),
    strategy: checkChoice(c.strategy, 'strategy', STRATEGY_NAMES, { where }),
    strategyOptions: checkObject(c.strategyOptions, 'strategyOptions', { where }),
    children: checkInteger(c.children, 'children', { where }),
    blocks: checkInteger(c.blocks, 'blocks', { where }),
    proxy: parseProxy(proxy, where),
    seed: checkInteger(c.seed, 'seed', { min: 0, where }),
    constraints: checkConstraints(c.constraints, where),
    ...(c.mode === undefined ? {} : { mode: checkChoice(c.mode, 'mode', ['standalone', 'shared'] as const, { where }) }),
  };
}
