/**
 * Everything a training run is before its first step: the recipe with the caller's overrides, the
 * data set (adapted to the recipe's input), the network and its counts, the hyper-parameters and the
 * step count. {@link train} runs it; `nasnet train --dry-run` prints it ({@link formatSetup}).
 *
 * Precedence, field by field: an explicit option, else the recipe (`preset`), else the generic
 * defaults (the CIFAR recipe's optimizer and regularization, 1 epoch, batch 64, a held-out
 * validation split: what the search's children and quick experiments want).
 */
import { type Counts, countGraph } from '../cells/counts.js';
import type { Genotype } from '../cells/genotype-types.js';
import { type BuiltNetwork, buildNetwork, type NetworkOptions } from '../cells/network.js';
import { type PresetName, presetOptions } from '../cells/presets.js';
import { listDatasets, type ResolveOptions, resolveDataset } from '../data/registry.js';
import type { AugmentOptions, Dataset, DatasetInfo, Split } from '../data/types.js';
import { DataError, ValidationError } from '../errors.js';
import { checkBoolean, checkChoice, checkInteger, checkNumber, checkString, invalid, received } from '../util/check.js';
import { checkWritableFile } from '../util/writable.js';
import { recipe as lookupRecipe, type Preprocessing, RECIPES, type ResolvedRecipe, scaledLearningRate } from './recipes.js';
import { DROP_PATH_MODES, type DropPathMode, dropPathScalesWithDepth } from './schedule.js';

/** Options of `train()`. Every field defaults to the recipe (`preset`), else to the generic defaults. */
export interface TrainOptions {
  /** The cells to stack. */
  genotype: Genotype;
  /** A registry name (`cifar10`, `fashion-mnist`, `folder:PATH`, ...) or a resolved data set. */
  dataset: string | Dataset;
  /**
   * The paper's recipe to train with: 'nasnet-a-cifar', 'nasnet-a-mobile' or 'nasnet-a-large'
   * (`lib/train/recipes.ts`): its architecture (the preset of that name, overridable by `network`),
   * optimizer, learning rate scaled to `batchSize`, schedule, epochs, regularization, EMA, input size
   * and preprocessing. Default: none (the generic defaults).
   */
  preset?: PresetName;
  /** Where the data lives (`--data DIR`); default: the registry's location. */
  dataDir?: string;
  /** How the data set is resolved when given by name (channels, size, split, ...): wins over the recipe's. */
  dataOptions?: ResolveOptions;
  /** Network shape: N (cellsPerStack), penultimate or filters, stem, aux head, ... Classes, input size and channels come from the data set. */
  network?: NetworkOptions;
  /** Epochs; default the recipe's, else 1. */
  epochs?: number;
  /** Batch size; default the recipe's (the paper's per-replica batch), else 64. */
  batchSize?: number;
  /** Use at most this many training batches per epoch (a proxy budget); default: all. */
  maxBatchesPerEpoch?: number;
  /** Train on the whole training split (no validation images held out); default the recipe's, else false. */
  fullTrainingSet?: boolean;
  /** Split used for the end-of-epoch evaluation; default 'test'. The search uses 'validation'. */
  evalSplit?: 'validation' | 'test';
  /** Evaluate on at most this many images; default: all of the split. */
  maxEvalImages?: number;
  /** 'sgd' or 'rmsprop'; default the recipe's, else 'sgd'. */
  optimizer?: 'sgd' | 'rmsprop';
  /** Initial learning rate; default the recipe's scaled to `batchSize` (see `scaledLearningRate`), else 0.025 (SGD) or 0.04 (RMSProp). */
  lr?: number;
  /** Learning-rate schedule; default the recipe's, else 'cosine' for SGD and 'exponential' for RMSProp. */
  lrSchedule?: 'cosine' | 'exponential' | 'constant';
  /** Exponential schedule: factor per `lrDecayEpochs`; default 0.97. */
  lrDecayRate?: number;
  /** Exponential schedule: epochs between decays (staircase); default 2.4. */
  lrDecayEpochs?: number;
  /** SGD or RMSProp momentum; default 0.9. */
  momentum?: number;
  /** Nesterov momentum (SGD); default false. */
  nesterov?: boolean;
  /** RMSProp decay; default 0.9. */
  rmsDecay?: number;
  /** RMSProp epsilon; default 1.0. */
  rmsEpsilon?: number;
  /** L2 weight decay (not on BN or biases); default the recipe's, else 5e-4. */
  weightDecay?: number;
  /** Clip the global gradient norm; default the recipe's, else 5 (TF-slim CIFAR). 0 = off. */
  clipNorm?: number;
  /** ScheduledDropPath keep probability of the last cell at the end of training; default the recipe's, else 0.6. 1 = off. */
  dropPathKeep?: number;
  /** How the drop rate scales; default 'layer-and-time'. */
  dropPathMode?: DropPathMode;
  /** Parameter EMA decay used for evaluation, predictions and export (0 = off); default the recipe's, else 0. */
  ema?: number;
  /** Folder sets: 'inception' or the data set's default; default the recipe's. */
  preprocessing?: Preprocessing;
  /** Training augmentation; default the data set's (pad-4 crop and flip for CIFAR-like sets). */
  augment?: AugmentOptions;
  /** Cutout square side; default the recipe's, else off. */
  cutout?: number;
  /** Seed of initialization, shuffling, augmentation and DropPath; default 0. */
  seed?: number;
  /** Write a checkpoint here after every epoch (atomically). */
  checkpoint?: string;
  /** Continue from `checkpoint` when it exists; default true when a checkpoint path is given. */
  resume?: boolean;
  /** Append one JSON line of metrics per epoch here. */
  metricsFile?: string;
  /** Show a progress bar on stderr; default false. */
  progress?: boolean;
  /** Called after every epoch. */
  onEpoch?: (m: import('./train.js').EpochMetrics) => void;
  /** Where setup notes go (full training set, evaluation split, learning-rate scaling, data adaptation); default none. */
  onLog?: (line: string) => void;
  /** Stop early when the training loss or gradient norm becomes NaN or infinite (the search's divergence check); default true. Either way the result says `diverged: true`. */
  stopOnDivergence?: boolean;
  /**
   * Where the plans run; default 'cpu'. 'auto' takes CUDA when a device is usable, else the CPU with a
   * one-line notice on stderr; 'cuda' fails with the reason when none is.
   */
  backend?: 'auto' | 'cpu' | 'cuda';
  /** CUDA device index; default 0. */
  device?: number;
}

/** The resolved hyper-parameters of a run. */
export interface TrainingHyper {
  optimizer: 'sgd' | 'rmsprop';
  lr: number;
  /** How `lr` was chosen (the scaling rule, when a recipe's rate was scaled). */
  lrRule: string;
  lrSchedule: 'cosine' | 'exponential' | 'constant';
  lrDecayRate: number;
  lrDecayEpochs: number;
  momentum: number;
  nesterov: boolean;
  rmsDecay: number;
  rmsEpsilon: number;
  weightDecay: number;
  clipNorm: number;
  dropPathKeep: number;
  dropPathMode: DropPathMode;
  ema: number;
  cutout: number;
}

/** What a run is before its first step. */
export interface TrainingSetup {
  /** The recipe, when `preset` was given. */
  recipe: ResolvedRecipe | null;
  /** The data set; null in a dry run whose data is not on this machine. */
  dataset: Dataset | null;
  data: {
    name: string;
    info: DatasetInfo;
    trainImages: number;
    /** 'data': counted from the files; 'paper': the paper's count (dry run without the data). */
    counted: 'data' | 'paper';
    evalSplit: 'validation' | 'test' | null;
    evalImages: number;
    preprocessing: string;
    augment: AugmentOptions;
  };
  network: BuiltNetwork;
  counts: Counts;
  hyper: TrainingHyper;
  epochs: number;
  batchSize: number;
  batchesPerEpoch: number;
  totalSteps: number;
  /** Facts worth a line in the log: full training set, evaluation split, scaling, adaptation. */
  notes: string[];
}

/** Generic defaults: the CIFAR recipe's regularization, RMSProp's from the mobile recipe. */
const CIFAR = RECIPES['nasnet-a-cifar'];
const MOBILE = RECIPES['nasnet-a-mobile'];
const GENERIC_EPOCHS = 1;
const GENERIC_BATCH = 64;

function isFolderName(name: string): boolean {
  return name === 'imagenet' || name.startsWith('folder:');
}

function nativeSize(name: string): number | undefined {
  return listDatasets().find((d) => d.name === name)?.height;
}

function squareSize(size: NetworkOptions['inputSize']): number | undefined {
  if (size === undefined) return undefined;
  if (typeof size === 'number') return size;
  if (size[0] !== size[1]) throw invalid('inputSize', 'a square size with a recipe', received(size));
  return size[0];
}

function resolveHyper(o: TrainOptions, r: ResolvedRecipe | null, batchSize: number): TrainingHyper {
  const optimizer = checkChoice(o.optimizer ?? r?.optimizer ?? 'sgd', 'optimizer', ['sgd', 'rmsprop'] as const);
  let lr: number;
  let lrRule: string;
  if (o.lr !== undefined) {
    lr = checkNumber(o.lr, 'lr', { min: 0 });
    lrRule = 'given';
  } else if (r) {
    lr = scaledLearningRate(r, batchSize);
    lrRule = `= ${r.lr} × ${batchSize} / ${r.batchSize}: the paper's ${r.paperLr} for ${r.replicas} × ${r.batchSize} = ${r.paperBatch.toLocaleString('en-US')} images per step, scaled linearly to batch ${batchSize}`;
  } else {
    lr = optimizer === 'sgd' ? CIFAR.lr : MOBILE.lr;
    lrRule = 'default';
  }
  const schedule = checkChoice(o.lrSchedule ?? r?.lrSchedule ?? (optimizer === 'sgd' ? 'cosine' : 'exponential'), 'lrSchedule', [
    'cosine',
    'exponential',
    'constant',
  ] as const);
  const mode = checkChoice(o.dropPathMode ?? r?.dropPathMode ?? 'layer-and-time', 'dropPathMode', DROP_PATH_MODES);
  return {
    optimizer,
    lr,
    lrRule,
    lrSchedule: schedule,
    lrDecayRate: checkNumber(o.lrDecayRate ?? r?.lrDecayRate ?? MOBILE.lrDecayRate!, 'lrDecayRate', { min: 0, max: 1 }),
    lrDecayEpochs: checkNumber(o.lrDecayEpochs ?? r?.lrDecayEpochs ?? MOBILE.lrDecayEpochs!, 'lrDecayEpochs', { min: 0, minOpen: true }),
    momentum: checkNumber(o.momentum ?? r?.momentum ?? CIFAR.momentum, 'momentum', { min: 0, max: 1, maxOpen: true }),
    nesterov: o.nesterov ?? false,
    rmsDecay: checkNumber(o.rmsDecay ?? r?.rmsDecay ?? MOBILE.rmsDecay!, 'rmsDecay', { min: 0, max: 1 }),
    rmsEpsilon: checkNumber(o.rmsEpsilon ?? r?.rmsEpsilon ?? MOBILE.rmsEpsilon!, 'rmsEpsilon', { min: 0, minOpen: true }),
    weightDecay: checkNumber(o.weightDecay ?? r?.weightDecay ?? CIFAR.weightDecay, 'weightDecay', { min: 0 }),
    clipNorm: checkNumber(o.clipNorm ?? r?.clipNorm ?? CIFAR.clipNorm, 'clipNorm', { min: 0 }),
    dropPathKeep: checkNumber(o.dropPathKeep ?? r?.dropPathKeep ?? CIFAR.dropPathKeep, 'dropPathKeep', { min: 0, max: 1 }),
    dropPathMode: mode,
    ema: checkNumber(o.ema ?? r?.ema ?? 0, 'ema', { min: 0, max: 0.999999999 }),
    cutout: checkInteger(o.cutout ?? r?.cutout ?? 0, 'cutout', { min: 0 }),
  };
}

async function resolveData(
  o: TrainOptions,
  r: ResolvedRecipe | null,
  full: boolean,
  dryRun: boolean,
  notes: string[],
): Promise<{ dataset: Dataset | null; info: DatasetInfo; trainImages: number; counted: 'data' | 'paper'; preprocessing: string }> {
  if (typeof o.dataset !== 'string') {
    const d = o.dataset;
    const preprocessing = d.train.kind === 'files' ? (d.train.preprocessing ?? 'torchvision') : "the data set's augmentation";
    return { dataset: d, info: d.info, trainImages: d.train.size, counted: 'data', preprocessing };
  }
  const name = o.dataset;
  const folder = isFolderName(name);
  const opts: ResolveOptions = { ...o.dataOptions, dataDir: o.dataDir ?? o.dataOptions?.dataDir };
  const preprocessing = o.preprocessing ?? r?.preprocessing;
  let described = folder ? 'torchvision' : 'the data set\'s augmentation';
  if (r) {
    const net = presetOptions(r.name, o.network ?? {});
    const size = squareSize(net.inputSize);
    opts.channels ??= net.inputChannels as 1 | 3 | undefined;
    opts.size ??= size;
    const native = nativeSize(name);
    if (!folder && opts.resize === undefined && size !== undefined && native !== undefined && size !== native) {
      // Small differences (28 → 32) are padded like the search does; larger ones resized.
      opts.resize = size > native * 1.25 ? 'bilinear' : 'pad';
      notes.push(`input: ${name} ${native}×${native} ${opts.resize === 'pad' ? 'zero-padded' : 'resized (bilinear)'} to the recipe's ${size}×${size}, ${opts.channels ?? 3} channels`);
    }
  }
  if (preprocessing === 'inception') {
    if (folder) {
      opts.preprocessing ??= 'inception';
      described = opts.preprocessing;
    } else {
      notes.push(`preprocessing: Inception preprocessing applies to image folders; ${name} keeps its own augmentation (pad-4 crop, flip)`);
    }
  } else if (preprocessing !== undefined) {
    checkChoice(preprocessing, 'preprocessing', ['cifar', 'inception'] as const);
  }
  if (full && opts.validationSize === undefined) opts.validationSize = 0;
  if (dryRun) opts.download ??= false;
  try {
    const dataset = await resolveDataset(name, opts);
    return { dataset, info: dataset.info, trainImages: dataset.train.size, counted: 'data', preprocessing: described };
  } catch (err) {
    const known = listDatasets().find((d) => d.name === name);
    if (!dryRun || !(err instanceof DataError) || !r || r.dataset !== name || !known) throw err;
    const net = presetOptions(r.name, o.network ?? {});
    const size = squareSize(net.inputSize) ?? known.height;
    notes.push(`data: ${name} is not on this machine (${err.message.split(/[;\n]/)[0]}); counting the paper's ${r.datasetImages.toLocaleString('en-US')} training images`);
    const info: DatasetInfo = { name, channels: 3, height: size, width: size, classes: known.classes, mean: [], std: [] };
    return { dataset: null, info, trainImages: r.datasetImages, counted: 'paper', preprocessing: described };
  }
}

function splitSize(s: Split): number {
  return s.size;
}

/**
 * Checks that the run's output files (checkpoint, metrics) can be written, creating their folders:
 * before any work, so a bad path fails now and not after training.
 *
 * @param options - the run's options
 * @throws ValidationError `checkpoint /proc/x.safetensors: cannot write in /proc (ENOENT)`
 */
export function checkOutputPaths(options: Pick<TrainOptions, 'checkpoint' | 'metricsFile'>): void {
  if (options.checkpoint !== undefined) checkWritableFile(checkString(options.checkpoint, 'checkpoint'), 'checkpoint');
  if (options.metricsFile !== undefined) checkWritableFile(checkString(options.metricsFile, 'metricsFile'), 'metricsFile');
}

/**
 * Resolves a run: recipe, data, network, counts, hyper-parameters, steps. Reads the data set (a
 * dry run falls back to the paper's image count when the recipe's own data set is not here).
 *
 * @param options - the run's options (see {@link TrainOptions})
 * @param dryRun - tolerate missing data of the recipe's own data set
 * @example
 * const s = await setupTraining({ genotype: NASNET_A, dataset: 'cifar10', preset: 'nasnet-a-cifar' }, true);
 * s.totalSteps; // 937500
 */
export async function setupTraining(options: TrainOptions, dryRun = false): Promise<TrainingSetup> {
  const r = options.preset !== undefined ? lookupRecipe(options.preset) : null;
  const notes: string[] = [];
  const batchSize = checkInteger(options.batchSize ?? r?.batchSize ?? GENERIC_BATCH, 'batchSize');
  const epochs = checkInteger(options.epochs ?? r?.epochs ?? GENERIC_EPOCHS, 'epochs');
  const full = checkBoolean(options.fullTrainingSet ?? r?.fullTrainingSet ?? false, 'fullTrainingSet');
  const hyper = resolveHyper(options, r, batchSize);
  // Where results go is checked before any work: a bad path fails now, not after training (a dry run writes nothing).
  if (!dryRun) checkOutputPaths(options);
  const data = await resolveData(options, r, full, dryRun, notes);
  const info = data.info;

  const base: NetworkOptions = r ? presetOptions(r.name, options.network ?? {}) : { ...options.network };
  // A CIFAR stem at ImageNet sizes is never what TF-slim builds: large inputs get the ImageNet stem.
  if (base.stem === undefined && Math.min(info.height, info.width) >= 128) {
    base.stem = 'imagenet';
    notes.push(`network: ImageNet stem for ${info.height}×${info.width} inputs (pass network.stem to choose)`);
  }
  const depth = dropPathScalesWithDepth(hyper.dropPathMode);
  if (base.dropPathDepthScaling !== undefined && base.dropPathDepthScaling !== depth) {
    throw new ValidationError(`network.dropPathDepthScaling ${base.dropPathDepthScaling} contradicts dropPathMode '${hyper.dropPathMode}'`);
  }
  const network = buildNetwork(options.genotype, {
    ...base,
    numClasses: info.classes,
    inputSize: [info.height, info.width],
    inputChannels: info.channels,
    dropPathDepthScaling: depth,
  });
  const counts = countGraph(network.inference);

  const maxBatches = options.maxBatchesPerEpoch === undefined ? Infinity : checkInteger(options.maxBatchesPerEpoch, 'maxBatchesPerEpoch');
  const perEpoch = Math.floor(data.trainImages / batchSize);
  if (perEpoch < 1) throw new ValidationError(`batchSize ${batchSize} is larger than the training split (${data.trainImages} images)`);
  const batchesPerEpoch = Math.min(perEpoch, maxBatches);

  const evalName = options.evalSplit ?? 'test';
  let evalImages = 0;
  let evalSplit: 'validation' | 'test' | null = evalName;
  if (data.dataset) {
    const s = evalName === 'test' ? data.dataset.test : data.dataset.validation;
    evalImages = splitSize(s);
    if (evalName === 'validation' && full && evalImages === 0) {
      throw new ValidationError('evalSplit validation: the full training set is used (fullTrainingSet), so no validation images are held out; evaluate on the test split');
    }
    if (evalImages === 0) {
      evalSplit = null;
      notes.push(`evaluation: disabled (${info.name} has no ${evalName} images)`);
    }
  }
  if (options.maxEvalImages !== undefined) evalImages = Math.min(evalImages, checkInteger(options.maxEvalImages, 'maxEvalImages'));
  if (full) {
    notes.push(
      `data: training on all ${data.trainImages.toLocaleString('en-US')} training images (no validation split held out)` +
        (evalSplit ? `; evaluating on the ${evalSplit} split` : ''),
    );
  }
  // A dry run without the data: the augmentation the recipe's data set would default to.
  const paperAugment: AugmentOptions = r?.preprocessing === 'inception' ? { crop: true, flip: true, colorDistortion: 'fast' } : { crop: true, flip: true };
  const augment: AugmentOptions = { ...(options.augment ?? data.dataset?.defaultAugment ?? paperAugment) };
  if (hyper.cutout > 0) augment.cutout = hyper.cutout;
  if (typeof augment.cutout === 'number') checkInteger(augment.cutout, 'cutout', { min: 0, max: Math.max(info.height, info.width) });
  if (hyper.ema > 0) notes.push(`ema: parameters averaged with decay ${hyper.ema}; evaluation and export use the averages`);
  return {
    recipe: r,
    dataset: data.dataset,
    data: {
      name: info.name,
      info,
      trainImages: data.trainImages,
      counted: data.counted,
      evalSplit,
      evalImages,
      preprocessing: data.preprocessing,
      augment,
    },
    network,
    counts,
    hyper,
    epochs,
    batchSize,
    batchesPerEpoch,
    totalSteps: epochs * batchesPerEpoch,
    notes,
  };
}

const n = (v: number): string => v.toLocaleString('en-US');
/** Small numbers as 5e-4 rather than 0.0005. */
const g = (v: number): string => (v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential() : String(v));

function describeAugment(a: AugmentOptions): string {
  const parts: string[] = [];
  if (a.crop) parts.push('random crop');
  if (a.flip) parts.push('flip');
  if (a.colorDistortion) parts.push(`colour distortion (${a.colorDistortion})`);
  if (a.cutout) parts.push(`cutout ${a.cutout === true ? 16 : a.cutout}`);
  return parts.length > 0 ? parts.join(', ') : 'no augmentation';
}

/**
 * The dry-run report: recipe, architecture, counts, optimizer, regularization, data and steps.
 *
 * @param s - a setup from {@link setupTraining}
 * @example process.stdout.write(formatSetup(await setupTraining(options, true)));
 */
export function formatSetup(s: TrainingSetup): string {
  const o = s.network.meta.options;
  const h = s.hyper;
  const lines: string[] = [];
  lines.push(s.recipe ? `recipe: ${s.recipe.name} (${s.recipe.source})` : 'recipe: none (generic defaults)');
  lines.push(
    `network: ${s.network.meta.name} (N=${o.cellsPerStack}, F=${o.filters}), ${o.stem} stem × ${o.stemMultiplier}, ` +
      `${o.inputSize[0]}×${o.inputSize[1]}×${o.inputChannels}, ${n(o.numClasses)} classes` +
      `${o.skipReductionLayerInput ? ', skip reduction layer input' : ''}`,
  );
  lines.push(
    `head: aux ${o.auxHead ? `weight ${o.auxWeight}` : 'off'}, dense dropout keep ${o.denseDropoutKeep}, label smoothing ${o.labelSmoothing}; ` +
      `BN decay ${o.bnMomentum} ε ${g(o.bnEpsilon)}`,
  );
  lines.push(`counts: ${n(s.counts.params)} params, ${n(s.counts.multAdds)} mult-adds`);
  const opt =
    h.optimizer === 'sgd'
      ? `sgd (momentum ${h.momentum}${h.nesterov ? ', nesterov' : ''})`
      : `rmsprop (decay ${h.rmsDecay}, momentum ${h.momentum}, ε ${h.rmsEpsilon})`;
  const sched = h.lrSchedule === 'exponential' ? `exponential ${h.lrDecayRate} every ${h.lrDecayEpochs} epochs` : h.lrSchedule;
  const rule = h.lrRule === 'given' ? '(given)' : h.lrRule === 'default' ? '(default)' : h.lrRule;
  lines.push(`optimizer: ${opt}, lr ${g(h.lr)} ${rule}, ${sched}`);
  lines.push(
    `regularization: weight decay ${g(h.weightDecay)}, clip norm ${h.clipNorm || 'off'}, drop-path keep ${h.dropPathKeep} (${h.dropPathMode}), ` +
      `EMA ${h.ema > 0 ? `${h.ema} (evaluation and export)` : 'off'}, cutout ${h.cutout || 'off'}`,
  );
  const counted = s.data.counted === 'paper' ? ' (the paper\'s count)' : '';
  lines.push(
    `data: ${s.data.name}, ${s.data.preprocessing} (${describeAugment(s.data.augment)}), ${n(s.data.trainImages)} training images${counted}, ` +
      `evaluation ${s.data.evalSplit ? `on the ${s.data.evalSplit} split` : 'disabled'}`,
  );
  lines.push(`steps: ${n(s.epochs)} epochs × ${n(s.batchesPerEpoch)} steps (batch ${s.batchSize}) = ${n(s.totalSteps)}`);
  for (const note of s.notes) lines.push(`note: ${note}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The JSON form of a setup (what `nasnet train --dry-run --json` prints).
 * @param s - a setup from {@link setupTraining}
 */
export function setupSummary(s: TrainingSetup): Record<string, unknown> {
  return {
    recipe: s.recipe?.name ?? null,
    network: { name: s.network.meta.name, ...s.network.meta.options },
    counts: { params: s.counts.params, multAdds: s.counts.multAdds },
    hyper: s.hyper,
    data: { name: s.data.name, trainImages: s.data.trainImages, counted: s.data.counted, evalSplit: s.data.evalSplit, preprocessing: s.data.preprocessing },
    epochs: s.epochs,
    batchSize: s.batchSize,
    batchesPerEpoch: s.batchesPerEpoch,
    totalSteps: s.totalSteps,
    notes: s.notes,
  };
}

