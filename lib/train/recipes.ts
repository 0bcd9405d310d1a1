/**
 * The paper's training recipes as data: one place for every training constant of NASNet-A on
 * CIFAR-10 and ImageNet. The architecture of each recipe (N, F, stem, auxiliary head weight, dense
 * dropout, label smoothing, BN decay and epsilon) is its preset in `lib/cells/presets.ts`; this
 * module holds the rest (optimizer, learning rate and its schedule, epochs, batch, weight decay,
 * clipping, ScheduledDropPath, parameter EMA, preprocessing), so each constant is written once.
 *
 * Sources: TF-slim `nets/nasnet/nasnet.py` (the training notes above `cifar_config`,
 * `large_imagenet_config` and `mobile_imagenet_config`, the configs' `drop_path_keep_prob` and
 * `total_training_steps`, and the arg scopes' weight decay), TF-slim `train_image_classifier.py`
 * (RMSProp decay 0.9, momentum 0.9, epsilon 1.0; `moving_average_decay`), and the paper (Zoph et al.
 * 2018, §4 and appendix: cutout on CIFAR, EMA 0.9999 on ImageNet).
 *
 * **Learning-rate scaling.** The paper trains ImageNet models with synchronous replicas: slim's notes
 * give a per-replica learning rate and batch ("learning rate: 0.04 * 50", "batch size (per replica):
 * 32", "sync sgd with 50 replicas"), i.e. lr 2.0 for 1,600 images per step. A single machine runs a
 * smaller total batch B, so the rate is scaled linearly (Goyal et al. 2017):
 * `lr(B) = perReplicaLr × replicas × B / (perReplicaBatch × replicas) = perReplicaLr × B / perReplicaBatch`
 * ({@link scaledLearningRate}). At the recipe's own batch (the paper's per-replica batch) this is the
 * per-replica rate; at the paper's total batch it is the paper's total rate.
 */

import type { NetworkOptions } from '../cells/network.js';
import { PRESET_NAMES, type PresetName, presetOptions } from '../cells/presets.js';
import { ValidationError } from '../errors.js';
import { checkNumber } from '../util/check.js';
import type { DropPathMode } from './schedule.js';

/** How images are prepared for training and evaluation. */
export type Preprocessing =
  /** In-memory sets (CIFAR): the data set's own augmentation (pad-4 random crop, flip), plus `cutout`. */
  | 'cifar'
  /** Image folders: TF-slim's `inception_preprocessing` (see `lib/data/inception.mjs`). */
  | 'inception';

/** One training recipe: everything but the architecture, which is {@link Recipe.preset}. */
export interface Recipe {
  /** The architecture preset (`lib/cells/presets.ts`); recipes are named after it. */
  readonly preset: PresetName;
  /** The data set the paper trained on. */
  readonly dataset: 'cifar10' | 'imagenet';
  /** Its training images (for a dry run when the data is not on this machine). */
  readonly datasetImages: number;
  /** Train on the whole training set (no validation images held out); evaluation uses the test split. */
  readonly fullTrainingSet: boolean;
  /** Epochs. */
  readonly epochs: number;
  /** Batch per replica: the recipe's default batch and the batch {@link Recipe.lr} belongs to. */
  readonly batchSize: number;
  /** Synchronous replicas of the paper's run (the total batch was `batchSize × replicas`). */
  readonly replicas: number;
  readonly optimizer: 'sgd' | 'rmsprop';
  /** Learning rate per replica, for {@link Recipe.batchSize} images (scaled by {@link scaledLearningRate}). */
  readonly lr: number;
  readonly lrSchedule: 'cosine' | 'exponential';
  /** Exponential schedule: the factor applied every {@link Recipe.lrDecayEpochs} epochs (staircase). */
  readonly lrDecayRate?: number;
  readonly lrDecayEpochs?: number;
  /** SGD or RMSProp momentum. */
  readonly momentum: number;
  /** RMSProp decay of the mean square. */
  readonly rmsDecay?: number;
  /** RMSProp epsilon. */
  readonly rmsEpsilon?: number;
  /** L2 weight decay (weights only: not BN, not biases). */
  readonly weightDecay: number;
  /** Clip the global gradient norm to this. */
  readonly clipNorm: number;
  /** ScheduledDropPath keep probability of the last cell at the end of training (1 = off). */
  readonly dropPathKeep: number;
  readonly dropPathMode: DropPathMode;
  /** Parameter exponential moving average decay, used for evaluation and export (0 = off). */
  readonly ema: number;
  readonly preprocessing: Preprocessing;
  /** Cutout square side on training images (0 = off). */
  readonly cutout: number;
  /** Where the numbers come from. */
  readonly source: string;
}

/** ImageNet's training images (ILSVRC2012-CLS). */
const IMAGENET_TRAIN_IMAGES = 1_281_167;

/**
 * TF-slim's `total_training_steps` for both ImageNet models is 250,000 synchronous steps of 1,600
 * images (50 × 32 mobile, 100 × 16 large): 250,000 × 1,600 / 1,281,167 ≈ 312 epochs.
 */
const IMAGENET_EPOCHS = Math.round((250_000 * 1_600) / IMAGENET_TRAIN_IMAGES);

/** The three recipes, by the name of their architecture preset. */
export const RECIPES: Readonly<Record<PresetName, Recipe>> = Object.freeze({
  'nasnet-a-cifar': Object.freeze({
    preset: 'nasnet-a-cifar',
    dataset: 'cifar10',
    datasetImages: 50_000,
    // slim trains on all 50,000 images: total_training_steps 937,500 = 600 epochs × 50,000 / 32.
    fullTrainingSet: true,
    epochs: 600,
    batchSize: 32,
    replicas: 1,
    optimizer: 'sgd',
    lr: 0.025,
    lrSchedule: 'cosine',
    momentum: 0.9,
    weightDecay: 5e-4,
    clipNorm: 5,
    dropPathKeep: 0.6,
    dropPathMode: 'layer-and-time',
    ema: 0,
    preprocessing: 'cifar',
    cutout: 16,
    source: 'TF-slim nasnet.py cifar_config and its training notes; nasnet_cifar_arg_scope; the paper (cutout)',
  }),
  'nasnet-a-mobile': Object.freeze({
    preset: 'nasnet-a-mobile',
    dataset: 'imagenet',
    datasetImages: IMAGENET_TRAIN_IMAGES,
    fullTrainingSet: true,
    epochs: IMAGENET_EPOCHS,
    batchSize: 32,
    replicas: 50,
    optimizer: 'rmsprop',
    lr: 0.04,
    lrSchedule: 'exponential',
    lrDecayRate: 0.97,
    lrDecayEpochs: 2.4,
    momentum: 0.9,
    rmsDecay: 0.9,
    rmsEpsilon: 1.0,
    weightDecay: 4e-5,
    clipNorm: 10,
    dropPathKeep: 1.0,
    dropPathMode: 'layer-and-time',
    ema: 0.9999,
    preprocessing: 'inception',
    cutout: 0,
    source: 'TF-slim nasnet.py mobile_imagenet_config and its training notes; nasnet_mobile_arg_scope; train_image_classifier.py',
  }),
  'nasnet-a-large': Object.freeze({
    preset: 'nasnet-a-large',
    dataset: 'imagenet',
    datasetImages: IMAGENET_TRAIN_IMAGES,
    fullTrainingSet: true,
    epochs: IMAGENET_EPOCHS,
    batchSize: 16,
    replicas: 100,
    optimizer: 'rmsprop',
    lr: 0.015,
    lrSchedule: 'exponential',
    lrDecayRate: 0.97,
    lrDecayEpochs: 2.4,
    momentum: 0.9,
    rmsDecay: 0.9,
    rmsEpsilon: 1.0,
    weightDecay: 5e-5,
    clipNorm: 10,
    dropPathKeep: 0.7,
    dropPathMode: 'layer-and-time',
    ema: 0.9999,
    preprocessing: 'inception',
    cutout: 0,
    source: 'TF-slim nasnet.py large_imagenet_config and its training notes; nasnet_large_arg_scope; train_image_classifier.py',
  }),
});

/**
 * The learning rate for a total batch of `batchSize` images under the linear scaling rule stated in
 * the module note: `recipe.lr × batchSize / recipe.batchSize`.
 *
 * @param recipe - a recipe (its per-replica lr and batch)
 * @param batchSize - the total batch of one step here
 * @example scaledLearningRate(RECIPES['nasnet-a-mobile'], 1600) // 2.0: the paper's 0.04 × 50 replicas
 * @example scaledLearningRate(RECIPES['nasnet-a-mobile'], 64)   // 0.08
 */
export function scaledLearningRate(recipe: Pick<Recipe, 'lr' | 'batchSize'>, batchSize: number): number {
  checkNumber(batchSize, 'batchSize', { min: 1 });
  return (recipe.lr * batchSize) / recipe.batchSize;
}

/** A recipe with its architecture: what `nasnet train --preset NAME --dry-run` prints. */
export interface ResolvedRecipe extends Recipe {
  /** The recipe's name (= its preset). */
  readonly name: PresetName;
  /** The preset's network options (architecture, auxiliary head, dense dropout, label smoothing, BN). */
  readonly network: NetworkOptions;
  /** The paper's total batch per step: `batchSize × replicas`. */
  readonly paperBatch: number;
  /** The paper's total learning rate: `lr × replicas`. */
  readonly paperLr: number;
}

/**
 * Looks up a recipe with its preset's network options.
 *
 * @param name - 'nasnet-a-cifar', 'nasnet-a-mobile' or 'nasnet-a-large'
 * @throws ValidationError naming the known recipes
 * @example recipe('nasnet-a-large').network.skipReductionLayerInput // true
 */
export function recipe(name: string): ResolvedRecipe {
  if (!(PRESET_NAMES as readonly string[]).includes(name)) {
    throw new ValidationError(`Unknown recipe '${name}' (known: ${PRESET_NAMES.join(', ')})`);
  }
  const r = RECIPES[name as PresetName];
  return { ...r, name: name as PresetName, network: presetOptions(name), paperBatch: r.batchSize * r.replicas, paperLr: r.lr * r.replicas };
}
