import { appendFileSync, existsSync } from 'node:fs';
import { countGraph } from '../cells/counts.js';
import type { Genotype } from '../cells/genotype-types.js';
import { type BuiltNetwork, buildNetwork, type NetworkOptions } from '../cells/network.js';
import { createLoader } from '../data/loader.js';
import { type ResolveOptions, resolveDataset } from '../data/registry.js';
import type { AugmentOptions, Dataset, Split } from '../data/types.js';
import { Plan } from '../engine/plan.js';
import { ParameterStore } from '../engine/store.js';
import { ValidationError } from '../errors.js';
import { IR_VERSION } from '../ir/types.js';
import { checkChoice, checkInteger, checkNumber, checkString } from '../util/check.js';
import { checkWritableFile } from '../util/writable.js';
import { type CheckpointMeta, resumeCheckpoint, saveCheckpoint } from './checkpoint.js';
import { createProgress, type ProgressReporter } from './progress.js';
import { cosineLr, type DropPathMode, dropPathRate, exponentialLr } from './schedule.js';
import { scoreLogits } from './softmax.js';

/** Options of {@link train}. Defaults follow the paper's CIFAR-10 training unless said. */
export interface TrainOptions {
  /** The cells to stack. */
  genotype: Genotype;
  /** A registry name (`cifar10`, `fashion-mnist`, `folder:PATH`, ...) or a resolved data set. */
  dataset: string | Dataset;
  /** Where the data lives (`--data DIR`); default: the registry's location. */
  dataDir?: string;
  /** How the data set is resolved when given by name: fed channels and size (e.g. 28×28 gray padded to 32×32), download, split. */
  dataOptions?: ResolveOptions;
  /** Network shape: N (cellsPerStack), penultimate or filters, stem, aux head, ... Classes, input size and channels come from the data set. */
  network?: NetworkOptions;
  /** Epochs; default 1. */
  epochs?: number;
  /** Batch size; default 64. */
  batchSize?: number;
  /** Use at most this many training batches per epoch (a proxy budget); default: all. */
  maxBatchesPerEpoch?: number;
  /** Split used for the end-of-epoch evaluation; default 'test'. The search uses 'validation'. */
  evalSplit?: 'validation' | 'test';
  /** Evaluate on at most this many images; default: all of the split. */
  maxEvalImages?: number;
  /** 'sgd' (default, cosine decay) or 'rmsprop' (the paper's ImageNet optimizer, exponential decay). */
  optimizer?: 'sgd' | 'rmsprop';
  /** Initial learning rate; default 0.025 (SGD) or 0.04 (RMSProp). */
  lr?: number;
  /** Learning-rate schedule; default 'cosine' for SGD, 'exponential' for RMSProp. */
  lrSchedule?: 'cosine' | 'exponential' | 'constant';
  /** Momentum; default 0.9. */
  momentum?: number;
  /** Nesterov momentum; default false. */
  nesterov?: boolean;
  /** L2 weight decay (not on BN or biases); default 5e-4. */
  weightDecay?: number;
  /** Clip the global gradient norm; default 5 (TF-slim). 0 = off. */
  clipNorm?: number;
  /** ScheduledDropPath keep probability of the last cell at the end of training; default 0.6. 1 = off. */
  dropPathKeep?: number;
  /** How the drop rate scales; default 'layer-and-time'. */
  dropPathMode?: DropPathMode;
  /** Training augmentation; default the data set's (pad-4 crop and flip for CIFAR-like sets). */
  augment?: AugmentOptions;
  /** Cutout square side; default off (the paper's best CIFAR results use 16). */
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
  onEpoch?: (m: EpochMetrics) => void;
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

/** What one epoch measured. */
export interface EpochMetrics {
  epoch: number;
  step: number;
  lr: number;
  dropPathRate: number;
  trainLoss: number;
  trainAccuracy: number;
  evalSplit: 'validation' | 'test';
  evalLoss: number;
  evalAccuracy: number;
  imagesPerSecond: number;
  seconds: number;
}

/** What {@link train} returns. */
export interface TrainResult {
  epochs: EpochMetrics[];
  /** Evaluation accuracy after the last epoch (NaN when training diverged before any). */
  accuracy: number;
  /** True when training stopped on a NaN/infinite loss. */
  diverged: boolean;
  params: number;
  multAdds: number;
  network: BuiltNetwork;
  store: ParameterStore;
  /** Epoch the run started from (0, or the checkpoint's epoch when resumed). */
  resumedFromEpoch: number;
}

async function evaluateSplit(plan: Plan, split: Split, batchSize: number, maxImages: number, seed: number): Promise<{ loss: number; accuracy: number }> {
  const loader = createLoader(split, { batchSize, shuffle: false, seed, dropLast: false });
  const classes = plan.classes;
  const full = plan.inputShape.reduce((a, b) => a * b, 1);
  let seen = 0;
  let lossSum = 0;
  let correct = 0;
  const padded = new Float32Array(full);
  for await (const batch of loader.epoch(0)) {
    const rows = Math.min(batch.size, maxImages - seen);
    if (rows <= 0) break;
    let images = batch.images;
    if (images.length !== full) {
      padded.fill(0);
      padded.set(images.subarray(0, Math.min(images.length, full)));
      images = padded;
    }
    const logits = await plan.predict(images);
    const s = scoreLogits(logits, batch.labels, rows, classes);
    lossSum += s.lossSum;
    correct += s.correct;
    seen += rows;
    if (seen >= maxImages) break;
  }
  return { loss: seen > 0 ? lossSum / seen : Number.NaN, accuracy: seen > 0 ? correct / seen : Number.NaN };
}

/**
 * Trains a network built from `genotype` on a data set: SGD with momentum and cosine decay (or
 * RMSProp with exponential decay), weight decay, label smoothing, the auxiliary head's loss, gradient
 * clipping and ScheduledDropPath; evaluates after every epoch; checkpoints and resumes exactly.
 *
 * @param options - see {@link TrainOptions}
 * @returns per-epoch metrics, the final accuracy, the counts and the trained parameters
 * @example
 * const r = await train({ genotype: NASNET_A, dataset: 'fashion-mnist', network: { cellsPerStack: 2, penultimate: 384 }, epochs: 1 });
 * console.log(r.accuracy);
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const epochs = checkInteger(options.epochs ?? 1, 'epochs');
  const batchSize = checkInteger(options.batchSize ?? 64, 'batchSize');
  const optimizer = checkChoice(options.optimizer ?? 'sgd', 'optimizer', ['sgd', 'rmsprop'] as const);
  const lrBase = checkNumber(options.lr ?? (optimizer === 'sgd' ? 0.025 : 0.04), 'lr', { min: 0 });
  const schedule = checkChoice(options.lrSchedule ?? (optimizer === 'sgd' ? 'cosine' : 'exponential'), 'lrSchedule', [
    'cosine',
    'exponential',
    'constant',
  ] as const);
  const keep = checkNumber(options.dropPathKeep ?? 0.6, 'dropPathKeep', { min: 0, max: 1 });
  const seed = checkInteger(options.seed ?? 0, 'seed', { min: 0 });
  const evalSplitName = options.evalSplit ?? 'test';
  const maxBatches = options.maxBatchesPerEpoch === undefined ? Infinity : checkInteger(options.maxBatchesPerEpoch, 'maxBatchesPerEpoch');
  const maxEval = options.maxEvalImages === undefined ? Infinity : checkInteger(options.maxEvalImages, 'maxEvalImages');
  const momentum = checkNumber(options.momentum ?? 0.9, 'momentum', { min: 0, max: 1, maxOpen: true });
  const weightDecay = checkNumber(options.weightDecay ?? 5e-4, 'weightDecay', { min: 0 });
  const clipNorm = checkNumber(options.clipNorm ?? 5, 'clipNorm', { min: 0 });

  // Where results go is checked before any work: a bad path fails now, not after training.
  if (options.checkpoint !== undefined) checkWritableFile(checkString(options.checkpoint, 'checkpoint'), 'checkpoint');
  if (options.metricsFile !== undefined) checkWritableFile(checkString(options.metricsFile, 'metricsFile'), 'metricsFile');

  const dataset = typeof options.dataset === 'string' ? await resolveDataset(options.dataset, { ...options.dataOptions, dataDir: options.dataDir ?? options.dataOptions?.dataDir }) : options.dataset;
  const info = dataset.info;
  const network = buildNetwork(options.genotype, {
    ...options.network,
    numClasses: info.classes,
    inputSize: [info.height, info.width],
    inputChannels: info.channels,
  });
  const counts = countGraph(network.inference);

  const store = new ParameterStore();
  let startEpoch = 0;
  let step = 0;
  const resume = options.resume ?? options.checkpoint !== undefined;
  const backend = checkChoice(options.backend ?? 'cpu', 'backend', ['auto', 'cpu', 'cuda'] as const);
  const device = checkInteger(options.device ?? 0, 'device', { min: 0 });
  const trainPlan = await Plan.compile(network.graph, store, { batch: batchSize, training: true, seed, optimizer, backend, device });
  const evalPlan = await Plan.compile(network.inference, store, { batch: batchSize, training: false, seed, backend, device });
  if (options.checkpoint && resume && existsSync(options.checkpoint)) {
    // The plans made every tensor the run needs: the checkpoint must match them all (and this run).
    let meta: CheckpointMeta;
    try {
      meta = resumeCheckpoint(options.checkpoint, store, { genotype: options.genotype, network: network.meta.options, dataset: info.name });
    } catch (err) {
      trainPlan.dispose();
      evalPlan.dispose();
      throw err;
    }
    if (meta.epoch > epochs) throw new ValidationError(`checkpoint ${options.checkpoint}: ${meta.epoch} epochs done, more than the ${epochs} asked for`);
    startEpoch = meta.epoch;
    step = meta.step;
  }
  if (trainPlan.description.notice) process.stderr.write(`nasnet train: ${trainPlan.description.notice}\n`);

  const augment: AugmentOptions = { ...(options.augment ?? dataset.defaultAugment) };
  if (options.cutout !== undefined) augment.cutout = options.cutout;
  if (augment.cutout !== undefined) {
    checkInteger(augment.cutout, 'cutout', { min: 0, max: Math.max(info.height, info.width) });
  }
  const loader = createLoader(dataset.train, { batchSize, shuffle: true, seed, augment, dropLast: true });
  const batchesPerEpoch = Math.min(loader.batchesPerEpoch, maxBatches);
  if (batchesPerEpoch < 1) {
    throw new ValidationError(`batchSize ${batchSize} is larger than the training split (${dataset.train.size} images)`);
  }
  const totalSteps = epochs * batchesPerEpoch;
  const evalSplit = evalSplitName === 'test' ? dataset.test : dataset.validation;

  const metrics: EpochMetrics[] = [];
  let diverged = false;
  const progress: ProgressReporter | undefined = options.progress ? createProgress(totalSteps, step, batchSize) : undefined;
  try {
    for (let epoch = startEpoch; epoch < epochs && !diverged; epoch++) {
      const t0 = performance.now();
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      let b = 0;
      let lr = lrBase;
      let rate = 0;
      for await (const batch of loader.epoch(epoch)) {
        if (b >= batchesPerEpoch) break;
        const progressFrac = step / totalSteps;
        lr = schedule === 'cosine' ? cosineLr(step, totalSteps, lrBase) : schedule === 'exponential' ? exponentialLr(step / batchesPerEpoch, lrBase) : lrBase;
        rate = dropPathRate(keep, progressFrac, options.dropPathMode);
        const r = await trainPlan.trainStep(batch.images, batch.labels, {
          lr,
          momentum,
          nesterov: options.nesterov ?? false,
          weightDecay,
          clipNorm,
          dropPathRate: rate,
          step,
        });
        step++;
        b++;
        // A NaN or infinite loss or gradient norm (kernels propagate NaN, so bad input or weights show here).
        if (!Number.isFinite(r.loss) || !Number.isFinite(r.gradNorm)) {
          diverged = true;
          if (options.stopOnDivergence ?? true) break;
        }
        lossSum += r.loss * batch.size;
        correct += r.correct;
        seen += batch.size;
        progress?.update(step, { epoch: epoch + 1, epochs, loss: lossSum / seen, accuracy: correct / seen });
      }
      if (diverged) break;
      const trainSeconds = (performance.now() - t0) / 1000;
      const ev = await evaluateSplit(evalPlan, evalSplit, batchSize, maxEval, seed);
      if (!Number.isFinite(ev.loss)) diverged = true; // e.g. running statistics made NaN by the last step
      const m: EpochMetrics = {
        epoch: epoch + 1,
        step,
        lr,
        dropPathRate: rate,
        trainLoss: lossSum / seen,
        trainAccuracy: correct / seen,
        evalSplit: evalSplitName,
        evalLoss: ev.loss,
        evalAccuracy: ev.accuracy,
        imagesPerSecond: seen / trainSeconds,
        seconds: (performance.now() - t0) / 1000,
      };
      metrics.push(m);
      if (options.metricsFile) appendFileSync(options.metricsFile, `${JSON.stringify(m)}\n`);
      if (options.checkpoint && !diverged) {
        // A diverged epoch never replaces the last good checkpoint.
        saveCheckpoint(options.checkpoint, store, {
          format: 'nasnet-checkpoint-1',
          irVersion: IR_VERSION,
          step,
          epoch: epoch + 1,
          genotype: options.genotype,
          network: network.meta.options,
          dataset: info.name,
        });
      }
      progress?.log(
        `epoch ${m.epoch}/${epochs}: train loss ${m.trainLoss.toFixed(4)} acc ${(100 * m.trainAccuracy).toFixed(2)}%, ` +
          `${evalSplitName} loss ${m.evalLoss.toFixed(4)} acc ${(100 * m.evalAccuracy).toFixed(2)}%, ${m.imagesPerSecond.toFixed(0)} img/s`,
      );
      options.onEpoch?.(m);
    }
  } finally {
    progress?.stop();
    trainPlan.dispose();
    evalPlan.dispose();
  }
  const last = metrics[metrics.length - 1];
  return {
    epochs: metrics,
    accuracy: diverged || !last ? Number.NaN : last.evalAccuracy,
    diverged,
    params: counts.params,
    multAdds: counts.multAdds,
    network,
    store,
    resumedFromEpoch: startEpoch,
  };
}
