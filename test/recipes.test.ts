import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NASNET_A } from '../lib/cells/genotypes.js';
import { RECIPES, recipe, scaledLearningRate } from '../lib/train/recipes.js';
import { setupTraining } from '../lib/train/setup.js';

// The table (and TF-slim's nasnet.py notes), field by field.
const TABLE = {
  'nasnet-a-cifar': {
    epochs: 600, batchSize: 32, replicas: 1, optimizer: 'sgd', momentum: 0.9, lr: 0.025, lrSchedule: 'cosine', weightDecay: 5e-4,
    clipNorm: 5, dropPathKeep: 0.6, cutout: 16, fullTrainingSet: true, ema: 0, preprocessing: 'cifar',
    network: { auxWeight: 0.4, stem: 'cifar', cellsPerStack: 6, filters: 32, stemMultiplier: 3, denseDropoutKeep: 1, labelSmoothing: 0, bnMomentum: 0.9, bnEpsilon: 1e-5 },
  },
  'nasnet-a-mobile': {
    epochs: 312, batchSize: 32, replicas: 50, optimizer: 'rmsprop', rmsDecay: 0.9, rmsEpsilon: 1.0, momentum: 0.9, lr: 0.04, lrSchedule: 'exponential',
    lrDecayRate: 0.97, lrDecayEpochs: 2.4, weightDecay: 4e-5, clipNorm: 10, dropPathKeep: 1.0, ema: 0.9999, preprocessing: 'inception', cutout: 0,
    fullTrainingSet: true,
    network: { auxWeight: 0.4, stem: 'imagenet', cellsPerStack: 4, filters: 44, stemMultiplier: 1, inputSize: [224, 224], denseDropoutKeep: 0.5, labelSmoothing: 0.1, bnMomentum: 0.9997, bnEpsilon: 1e-3 },
  },
  'nasnet-a-large': {
    epochs: 312, batchSize: 16, replicas: 100, optimizer: 'rmsprop', rmsDecay: 0.9, rmsEpsilon: 1.0, momentum: 0.9, lr: 0.015, lrSchedule: 'exponential',
    lrDecayRate: 0.97, lrDecayEpochs: 2.4, weightDecay: 5e-5, clipNorm: 10, dropPathKeep: 0.7, ema: 0.9999, preprocessing: 'inception', cutout: 0,
    fullTrainingSet: true,
    network: { auxWeight: 0.4, stem: 'imagenet', cellsPerStack: 6, filters: 168, stemMultiplier: 3, inputSize: [331, 331], skipReductionLayerInput: true, denseDropoutKeep: 0.5, labelSmoothing: 0.1, bnMomentum: 0.9997, bnEpsilon: 1e-3 },
  },
} as const;

describe('recipes', () => {
  it('each resolved recipe equals the table field by field', () => {
    for (const [name, row] of Object.entries(TABLE)) {
      const r = recipe(name);
      const { network, ...training } = row;
      for (const [field, value] of Object.entries(training)) expect(r[field as keyof typeof r], `${name}.${field}`).toBe(value);
      for (const [field, value] of Object.entries(network)) {
        const got = r.network[field as keyof typeof r.network];
        // inputSize may be held as a side or as [height, width].
        const norm = field === 'inputSize' && typeof got === 'number' ? [got, got] : got;
        expect(norm, `${name}.network.${field}`).toEqual(value);
      }
    }
    expect(recipe('nasnet-a-mobile')).toMatchObject({ paperBatch: 1600, paperLr: 2 });
    expect(recipe('nasnet-a-large')).toMatchObject({ paperBatch: 1600, paperLr: 1.5 });
    expect(() => recipe('nasnet-b')).toThrow("Unknown recipe 'nasnet-b' (known: nasnet-a-cifar, nasnet-a-mobile, nasnet-a-large)");
  });

  it("scales the paper's learning rate linearly from its total batch to yours", () => {
    const mobile = RECIPES['nasnet-a-mobile'];
    expect(scaledLearningRate(mobile, 1600)).toBeCloseTo(2.0, 12); // 0.04 × 50 replicas of 32
    expect(scaledLearningRate(mobile, 32)).toBeCloseTo(0.04, 12);
    expect(scaledLearningRate(mobile, 64)).toBeCloseTo(0.08, 12);
    expect(scaledLearningRate(RECIPES['nasnet-a-large'], 1600)).toBeCloseTo(1.5, 12); // 0.015 × 100 replicas of 16
    expect(scaledLearningRate(RECIPES['nasnet-a-large'], 8)).toBeCloseTo(0.0075, 12);
    expect(scaledLearningRate(RECIPES['nasnet-a-cifar'], 128)).toBeCloseTo(0.1, 12);
  });

  it('train({ preset }) takes every field from the recipe, scales lr to the batch, and lets each field be overridden', async () => {
    const base = { genotype: NASNET_A, dataset: 'fashion-mnist-mini', network: { cellsPerStack: 1, filters: 8 } } as const;
    const s = await setupTraining({ ...base, preset: 'nasnet-a-mobile', batchSize: 8 }, true);
    expect(s.hyper).toMatchObject({
      optimizer: 'rmsprop', lr: 0.01, lrSchedule: 'exponential', lrDecayRate: 0.97, lrDecayEpochs: 2.4, rmsDecay: 0.9, rmsEpsilon: 1,
      weightDecay: 4e-5, clipNorm: 10, dropPathKeep: 1, ema: 0.9999,
    });
    expect(s.epochs).toBe(312);
    expect(s.network.meta.options).toMatchObject({ stem: 'imagenet', inputSize: [224, 224], inputChannels: 3, numClasses: 10, labelSmoothing: 0.1, denseDropoutKeep: 0.5 });
    // All 3,000 training images (2,500 + the 500 otherwise held out), evaluation on the test split.
    expect(s.data.trainImages).toBe(3000);
    expect(s.data.evalSplit).toBe('test');
    expect(s.notes).toContain('data: training on all 3,000 training images (no validation split held out); evaluating on the test split');
    const o = await setupTraining({ ...base, preset: 'nasnet-a-mobile', batchSize: 8, lr: 0.5, weightDecay: 0, ema: 0, fullTrainingSet: false, epochs: 2 }, true);
    expect(o.hyper).toMatchObject({ lr: 0.5, weightDecay: 0, ema: 0 });
    expect([o.data.trainImages, o.epochs]).toEqual([2500, 2]);
    // Without a preset: the generic defaults, as before.
    const g = await setupTraining({ ...base }, true);
    expect(g.hyper).toMatchObject({ optimizer: 'sgd', lr: 0.025, weightDecay: 5e-4, clipNorm: 5, dropPathKeep: 0.6, ema: 0 });
    expect([g.epochs, g.batchSize, g.data.trainImages]).toEqual([1, 64, 2500]);
    await expect(setupTraining({ ...base, preset: 'nasnet-a-cifar', evalSplit: 'validation' }, true)).rejects.toThrow(
      'evalSplit validation: the full training set is used (fullTrainingSet), so no validation images are held out',
    );
  });
});

describe('nasnet train --preset NAME --dry-run', () => {
  const root = dirname(dirname(fileURLToPath(import.meta.url)));
  const env = { ...process.env, NASNET_DATA: mkdtempSync(join(tmpdir(), 'nasnet-nodata-')) };
  const dry = (preset: string) => {
    const r = spawnSync(process.execPath, [join(root, 'bin', 'nasnet.js'), 'train', '--preset', preset, '--dry-run'], { encoding: 'utf8', env });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.split('\n').filter((l) => !l.startsWith('note: data: '));
  };

  it('prints the resolved architecture, recipe, counts and step count of each preset', () => {
    expect(dry('nasnet-a-cifar')).toEqual([
      'recipe: nasnet-a-cifar (TF-slim nasnet.py cifar_config and its training notes; nasnet_cifar_arg_scope; the paper (cutout))',
      'network: 6@768 (N=6, F=32), cifar stem × 3, 32×32×3, 10 classes',
      'head: aux weight 0.4, dense dropout keep 1, label smoothing 0; BN decay 0.9 ε 1e-5',
      'counts: 3,346,538 params, 544,333,312 mult-adds',
      "optimizer: sgd (momentum 0.9), lr 0.025 = 0.025 × 32 / 32: the paper's 0.025 for 1 × 32 = 32 images per step, scaled linearly to batch 32, cosine",
      'regularization: weight decay 5e-4, clip norm 5, drop-path keep 0.6 (layer-and-time), EMA off, cutout 16',
      "data: cifar10, the data set's augmentation (random crop, flip, cutout 16), 50,000 training images (the paper's count), evaluation on the test split",
      'steps: 600 epochs × 1,562 steps (batch 32) = 937,200',
      '',
    ]);
    expect(dry('nasnet-a-mobile')).toEqual([
      'recipe: nasnet-a-mobile (TF-slim nasnet.py mobile_imagenet_config and its training notes; nasnet_mobile_arg_scope; train_image_classifier.py)',
      'network: 4@1056 (N=4, F=44), imagenet stem × 1, 224×224×3, 1,000 classes',
      'head: aux weight 0.4, dense dropout keep 0.5, label smoothing 0.1; BN decay 0.9997 ε 0.001',
      'counts: 5,289,978 params, 563,638,816 mult-adds',
      "optimizer: rmsprop (decay 0.9, momentum 0.9, ε 1), lr 0.04 = 0.04 × 32 / 32: the paper's 2 for 50 × 32 = 1,600 images per step, scaled linearly to batch 32, exponential 0.97 every 2.4 epochs",
      'regularization: weight decay 4e-5, clip norm 10, drop-path keep 1 (layer-and-time), EMA 0.9999 (evaluation and export), cutout off',
      "data: imagenet, inception (random crop, flip, colour distortion (fast)), 1,281,167 training images (the paper's count), evaluation on the test split",
      'steps: 312 epochs × 40,036 steps (batch 32) = 12,491,232',
      'note: ema: parameters averaged with decay 0.9999; evaluation and export use the averages',
      '',
    ]);
    expect(dry('nasnet-a-large')).toEqual([
      'recipe: nasnet-a-large (TF-slim nasnet.py large_imagenet_config and its training notes; nasnet_large_arg_scope; train_image_classifier.py)',
      'network: 6@4032 (N=6, F=168), imagenet stem × 3, 331×331×3, 1,000 classes, skip reduction layer input',
      'head: aux weight 0.4, dense dropout keep 0.5, label smoothing 0.1; BN decay 0.9997 ε 0.001',
      'counts: 88,753,150 params, 23,783,414,658 mult-adds',
      "optimizer: rmsprop (decay 0.9, momentum 0.9, ε 1), lr 0.015 = 0.015 × 16 / 16: the paper's 1.5 for 100 × 16 = 1,600 images per step, scaled linearly to batch 16, exponential 0.97 every 2.4 epochs",
      'regularization: weight decay 5e-5, clip norm 10, drop-path keep 0.7 (layer-and-time), EMA 0.9999 (evaluation and export), cutout off',
      "data: imagenet, inception (random crop, flip, colour distortion (fast)), 1,281,167 training images (the paper's count), evaluation on the test split",
      'steps: 312 epochs × 80,072 steps (batch 16) = 24,982,464',
      'note: ema: parameters averaged with decay 0.9999; evaluation and export use the averages',
      '',
    ]);
  });
});
