import { appendFileSync, existsSync } from 'node:fs';
import { BACKEND_CHOICES } from '../backends.js';
import type { NativeStepResult } from '../binding-types.js';
import type { BuiltNetwork } from '../cells/network.js';
import { createLoader } from '../data/loader.js';
import type { Split } from '../data/types.js';
import { Plan } from '../engine/plan.js';
import { ParameterStore } from '../engine/store.js';
import { ValidationError } from '../errors.js';
import { IR_VERSION } from '../ir/types.js';
import { checkChoice, checkInteger } from '../util/check.js';
import { type CheckpointMeta, resumeCheckpoint, saveCheckpoint } from './checkpoint.js';
import { createProgress, type ProgressReporter } from './progress.js';
import { cosineLr, dropPathRate, exponentialLr } from './schedule.js';
import { checkOutputPaths, setupTraining, type TrainingHyper, type TrainingSetup, type TrainOptions } from './setup.js';
import { scoreLogits } from './softmax.js';

export type { TrainOptions } from './setup.js';

/** What one epoch measured. */
export interface EpochMetrics {
  epoch: number;
  step: number;
  lr: number;
  dropPathRate: number;
  trainLoss: number;
  trainAccuracy: number;
  /** The split evaluated, or null when evaluation is disabled (no images in it). */
  evalSplit: 'validation' | 'test' | null;
  /** NaN when evaluation is disabled. */
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
  /** The resolved hyper-parameters (recipe, overrides, learning-rate scaling). */
  hyper: TrainingHyper;
  /** Everything the run was set up with (what `--dry-run` prints). */
  setup: TrainingSetup;
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
  await loader.close();
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
  return runTraining(await setupTraining(options), options);
}

/**
 * Runs a resolved setup (what {@link train} does after {@link setupTraining}); `transfer()` uses it
 * to train the setup it compared.
 *
 * @param setup - from `setupTraining(options)` with a data set (not a dry run without data)
 * @param options - the same options (checkpoint, metrics, progress, callbacks, seed)
 */
export async function runTraining(setup: TrainingSetup, options: TrainOptions): Promise<TrainResult> {
  if (setup.dataset === null) throw new ValidationError(`cannot train without the data: ${setup.data.name} is not on this machine`);
  const { network, hyper: h, epochs, batchSize, batchesPerEpoch, totalSteps } = setup;
  const dataset = setup.dataset;
  const seed = checkInteger(options.seed ?? 0, 'seed', { min: 0 });
  const maxEval = setup.data.evalImages;
  checkOutputPaths(options); // again: the setup may come from a dry run, which checks no path
  for (const note of setup.notes) options.onLog?.(note);

  const store = new ParameterStore();
  let startEpoch = 0;
  let step = 0;
  const resume = options.resume ?? options.checkpoint !== undefined;
  const backend = checkChoice(options.backend ?? 'cpu', 'backend', BACKEND_CHOICES);
  const device = checkInteger(options.device ?? 0, 'device', { min: 0 });
  const trainPlan = await Plan.compile(network.graph, store, { batch: batchSize, training: true, seed, optimizer: h.optimizer, backend, device, ema: h.ema });
  // With EMA, evaluation reads the parameter averages (TF-slim evaluates the moving averages).
  const evalPlan = await Plan.compile(network.inference, store, { batch: batchSize, training: false, seed, backend, device, useEma: h.ema > 0 });
  if (options.checkpoint && resume && existsSync(options.checkpoint)) {
    // The plans made every tensor the run needs: the checkpoint must match them all (and this run).
    let meta: CheckpointMeta;
    try {
      meta = resumeCheckpoint(options.checkpoint, store, { genotype: options.genotype, network: network.meta.options, dataset: setup.data.name });
      if (meta.epoch > epochs) throw new ValidationError(`checkpoint ${options.checkpoint}: ${meta.epoch} epochs done, more than the ${epochs} asked for`);
    } catch (err) {
      trainPlan.dispose();
      evalPlan.dispose();
      throw err;
    }
    startEpoch = meta.epoch;
    step = meta.step;
  }
  if (trainPlan.description.notice) process.stderr.write(`nasnet train: ${trainPlan.description.notice}\n`);

  const loader = createLoader(dataset.train, { batchSize, shuffle: true, seed, augment: setup.data.augment, dropLast: true });
  const evalSplitName = setup.data.evalSplit;
  const evalSplit = evalSplitName === null ? null : evalSplitName === 'test' ? dataset.test : dataset.validation;
  const lrAt = (s: number): number =>
    h.lrSchedule === 'cosine'
      ? cosineLr(s, totalSteps, h.lr)
      : h.lrSchedule === 'exponential'
        ? exponentialLr(s / batchesPerEpoch, h.lr, h.lrDecayRate, h.lrDecayEpochs)
        : h.lr;

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
      let lr = h.lr;
      let rate = 0;
      // Each batch is staged (copied into the plan; on CUDA uploaded on a copy stream) while the
      // previous step runs, and the loader fetches the next one meanwhile: the device never waits
      // for the host's copy (Plan.stage).
      const stop = options.stopOnDivergence ?? true;
      type Running = { result: Promise<NativeStepResult>; size: number };
      let running: Running | undefined;
      // Accounts a finished step; true when training stops here (diverged).
      const finish = async (s: Running): Promise<boolean> => {
        const r = await s.result;
        step++;
        b++;
        // A NaN or infinite loss or gradient norm (kernels propagate NaN, so bad input or weights show here).
        if (!Number.isFinite(r.loss) || !Number.isFinite(r.gradNorm)) {
          diverged = true;
          if (stop) return true;
        }
        lossSum += r.loss * s.size;
        correct += r.correct;
        seen += s.size;
        progress?.update(step, { epoch: epoch + 1, epochs, loss: lossSum / seen, accuracy: correct / seen });
        return false;
      };
      for await (const batch of loader.epoch(epoch)) {
        if (b + (running ? 1 : 0) >= batchesPerEpoch) break;
        const staged = trainPlan.stage(batch.images, batch.labels);
        if (running) {
          const previous = running;
          running = undefined;
          if (await finish(previous)) break;
        }
        lr = lrAt(step);
        rate = dropPathRate(h.dropPathKeep, step / totalSteps, h.dropPathMode);
        const result = trainPlan.trainStep(staged, {
          lr,
          momentum: h.momentum,
          nesterov: h.nesterov,
          rmsDecay: h.rmsDecay,
          rmsEpsilon: h.rmsEpsilon,
          weightDecay: h.weightDecay,
          clipNorm: h.clipNorm,
          dropPathRate: rate,
          step,
        });
        result.catch(() => undefined); // awaited in finish(); a failure must not go unhandled meanwhile
        running = { result, size: batch.size };
      }
      if (running) await finish(running);
      if (diverged) break;
      const trainSeconds = (performance.now() - t0) / 1000;
      const ev = evalSplit === null ? { loss: Number.NaN, accuracy: Number.NaN } : await evaluateSplit(evalPlan, evalSplit, batchSize, maxEval, seed);
      if (evalSplit !== null && !Number.isFinite(ev.loss)) diverged = true; // e.g. running statistics made NaN by the last step
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
          dataset: setup.data.name,
          preset: setup.recipe?.name ?? null,
          ema: h.ema,
        });
      }
      const evalText = evalSplitName === null ? 'no evaluation' : `${evalSplitName} loss ${m.evalLoss.toFixed(4)} acc ${(100 * m.evalAccuracy).toFixed(2)}%`;
      progress?.log(
        `epoch ${m.epoch}/${epochs}: train loss ${m.trainLoss.toFixed(4)} acc ${(100 * m.trainAccuracy).toFixed(2)}%, ${evalText}, ${m.imagesPerSecond.toFixed(m.imagesPerSecond < 10 ? 1 : 0)} img/s`,
      );
      options.onEpoch?.(m);
    }
  } finally {
    progress?.stop();
    trainPlan.dispose();
    evalPlan.dispose();
    await loader.close();
  }
  const last = metrics[metrics.length - 1];
  return {
    epochs: metrics,
    accuracy: diverged || !last ? Number.NaN : last.evalAccuracy,
    diverged,
    params: setup.counts.params,
    multAdds: setup.counts.multAdds,
    network,
    store,
    resumedFromEpoch: startEpoch,
    hyper: h,
    setup,
  };
}
