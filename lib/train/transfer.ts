/**
 * One-call transfer (the paper's point): a cell found on a small proxy, stacked N times with F
 * filters at a published scale, compared with NASNet-A at that scale, and trained with the paper's
 * recipe for it.
 */
import type { Genotype } from '../cells/genotype-types.js';
import { NASNET_A } from '../cells/genotypes.js';
import type { NetworkOptions } from '../cells/network.js';
import { PRESET_NAMES, type PresetName } from '../cells/presets.js';
import { matchParams } from '../cells/sizing.js';
import { ValidationError } from '../errors.js';
import { checkInteger, invalid, received } from '../util/check.js';
import { recipe } from './recipes.js';
import { setupTraining, type TrainingSetup, type TrainOptions } from './setup.js';
import { runTraining, type TrainResult } from './train.js';

/** The published scales, by short name. */
export const TRANSFER_TARGETS = { cifar: 'nasnet-a-cifar', mobile: 'nasnet-a-mobile', large: 'nasnet-a-large' } as const;

/** A short name, or a scale of your own: a recipe (default by stem) with N, F and any network option. */
export type TransferTarget =
  | keyof typeof TRANSFER_TARGETS
  | (NetworkOptions & {
      /** The recipe to train with; default 'nasnet-a-mobile' for an ImageNet stem, else 'nasnet-a-cifar'. */
      preset?: PresetName;
      /** N: normal cells per stack (= `cellsPerStack`). */
      n?: number;
    });

/** Options of {@link transfer}: the target, the sizing, and any training option (each overrides the recipe). */
export interface TransferOptions extends Omit<TrainOptions, 'genotype' | 'preset' | 'dataset'> {
  /** The searched cells (e.g. a search's `best.json` genotype). */
  genotype: Genotype;
  /** Where to: 'cifar' (6@768, CIFAR-10), 'mobile' (4@1056, ImageNet 224), 'large' (6@4032, ImageNet 331), or `{ n, filters, ... }`. */
  to: TransferTarget;
  /** The data set; default the recipe's (`cifar10` or `imagenet`). */
  dataset?: TrainOptions['dataset'];
  /** Size the searched network with this F instead of the target's. */
  filters?: number;
  /** Size it by its penultimate width P: F = P / (4 × the cell's output width). */
  penultimate?: number;
  /** Pick F so the searched network has about as many parameters as this genotype at the target scale (the paper compares with NASNet-A). */
  matchParams?: Genotype;
  /** Resolve and compare only; do not train. */
  dryRun?: boolean;
  /** Called with the comparison and the setup once they are known, before training starts. */
  onCompared?: (r: TransferResult) => void;
}

/** Parameters and mult-adds of one network. */
export interface NetworkCounts {
  /** The paper's N@P name. */
  name: string;
  N: number;
  F: number;
  params: number;
  multAdds: number;
}

/** What {@link transfer} returns. */
export interface TransferResult {
  /** The recipe trained with. */
  preset: PresetName;
  /** How F was chosen. */
  sizing: 'target' | 'filters' | 'penultimate' | 'match-params';
  /** The searched network as trained. */
  searched: NetworkCounts;
  /** NASNet-A at the target scale, on the same data (classes, input size). */
  reference: NetworkCounts;
  /** The searched network's setup (what a dry run prints). */
  setup: TrainingSetup;
  /** The training run; absent in a dry run. */
  train?: TrainResult;
}

function countsOf(s: TrainingSetup): NetworkCounts {
  const m = s.network.meta;
  return { name: m.name, N: m.N, F: m.F, params: s.counts.params, multAdds: s.counts.multAdds };
}

/**
 * The recipe and the target's network options (before sizing the searched cell).
 * @param to - a short name or `{ preset?, n?, ...networkOptions }`
 * @example resolveTarget({ n: 2, filters: 16 }) // { preset: 'nasnet-a-cifar', network: { filters: 16, cellsPerStack: 2 } }
 */
export function resolveTarget(to: TransferTarget): { preset: PresetName; network: NetworkOptions } {
  if (typeof to === 'string') {
    const preset = (TRANSFER_TARGETS as Record<string, PresetName>)[to];
    if (!preset) throw new ValidationError(`Unknown transfer target '${to}' (known: ${Object.keys(TRANSFER_TARGETS).join(', ')}, or { n, filters, ... })`);
    return { preset, network: {} };
  }
  if (typeof to !== 'object' || to === null) throw invalid('to', `one of ${Object.keys(TRANSFER_TARGETS).join(', ')} or { n, filters, ... }`, received(to));
  const { preset: p, n, ...network } = to;
  const preset = p ?? (network.stem === 'imagenet' ? 'nasnet-a-mobile' : 'nasnet-a-cifar');
  if (!(PRESET_NAMES as readonly string[]).includes(preset)) throw new ValidationError(`Unknown recipe '${preset}' (known: ${PRESET_NAMES.join(', ')})`);
  if (n !== undefined) {
    if (network.cellsPerStack !== undefined && network.cellsPerStack !== n) throw new ValidationError(`to.n ${n} and to.cellsPerStack ${network.cellsPerStack} disagree`);
    network.cellsPerStack = checkInteger(n, 'to.n');
  }
  return { preset, network };
}

/**
 * Builds a searched cell at a published scale, reports its parameters and mult-adds beside
 * NASNet-A's at that scale, and trains it with the paper's recipe for that scale (every training
 * option overrides the recipe field of the same name).
 *
 * Sizing: the target's F by default (the same N@F as NASNet-A's network; the penultimate width then
 * follows the cell's own output width), or `filters`, or `penultimate` (F = P / (4 × the cell's
 * output width)), or `matchParams` (F with the closest parameter count to that genotype's at the
 * target scale).
 *
 * @param options - genotype, target, sizing, data set, and training overrides
 * @returns the counts side by side, the setup, and the training result (unless `dryRun`)
 * @example
 * const best = JSON.parse(fs.readFileSync('runs/x/best.json', 'utf8')).genotype;
 * const r = await transfer({ genotype: best, to: 'mobile', dataset: 'folder:/data/birds', matchParams: NASNET_A });
 * r.searched.params / r.reference.params; // ≈ 1
 */
export async function transfer(options: TransferOptions): Promise<TransferResult> {
  const { genotype, to, filters, penultimate, matchParams: matchGenotype, dryRun, onCompared, ...training } = options;
  const { preset, network: targetNetwork } = resolveTarget(to);
  const r = recipe(preset);
  const sizings = [filters !== undefined, penultimate !== undefined, matchGenotype !== undefined].filter(Boolean).length;
  if (sizings > 1) throw new ValidationError('Give at most one of filters, penultimate and matchParams');
  const network: NetworkOptions = { ...targetNetwork, ...training.network };
  const base: TrainOptions = { ...training, genotype: NASNET_A, preset, dataset: options.dataset ?? r.dataset, network };

  // NASNet-A at the target scale, on the same data: the reference, and the data set resolved once.
  const refSetup = await setupTraining(base, dryRun ?? false);
  const reference = countsOf(refSetup);
  const data = { dataset: refSetup.dataset ?? base.dataset };

  const { filters: _f, penultimate: _p, ...unsized } = network;
  let sizing: TransferResult['sizing'] = 'target';
  let searchedNetwork: NetworkOptions = network;
  if (filters !== undefined) {
    sizing = 'filters';
    searchedNetwork = { ...unsized, filters: checkInteger(filters, 'filters') };
  } else if (penultimate !== undefined) {
    // buildNetwork divides P by the searched cell's own output width.
    sizing = 'penultimate';
    searchedNetwork = { ...unsized, penultimate: checkInteger(penultimate, 'penultimate') };
  } else if (matchGenotype !== undefined) {
    sizing = 'match-params';
    const target =
      matchGenotype === NASNET_A
        ? reference.params
        : (await setupTraining({ ...base, genotype: matchGenotype, dataset: data.dataset }, dryRun ?? false)).counts.params;
    searchedNetwork = { ...unsized, filters: matchParams(genotype, target, refSetup.network.meta.options).filters };
  }

  const setup = await setupTraining({ ...base, genotype, dataset: data.dataset, network: searchedNetwork }, dryRun ?? false);
  // The data notes were made when the data set was resolved for the reference.
  setup.notes = [...new Set([...refSetup.notes, ...setup.notes])];
  const result: TransferResult = { preset, sizing, searched: countsOf(setup), reference, setup };
  onCompared?.(result);
  if (dryRun) return result;
  result.train = await runTraining(setup, { ...base, genotype, dataset: data.dataset, network: searchedNetwork });
  return result;
}
