import type { Command } from 'commander';
import { BACKEND_CHOICES } from '../backends.js';
import type { NetworkOptions } from '../cells/network.js';
import { DROP_PATH_MODES } from '../train/schedule.js';
import type { TrainingSetup, TrainOptions } from '../train/setup.js';
import { checkChoice, checkInteger, choiceArg, intArg, numArg } from '../util/check.js';
import { checkWritableFile } from '../util/writable.js';

/** The training flags `nasnet train` and `nasnet transfer` share (each overrides the recipe's field). */
export interface TrainingFlags {
  data?: string;
  stemMultiplier?: number;
  epochs?: number;
  batch?: number;
  lr?: number;
  optimizer?: 'sgd' | 'rmsprop';
  weightDecay?: number;
  clipNorm?: number;
  dropPathKeep?: number;
  dropPathMode?: 'layer-and-time' | 'time' | 'layer';
  labelSmoothing?: number;
  denseDropoutKeep?: number;
  aux?: boolean;
  cutout?: number;
  ema?: number;
  fullTrain?: boolean;
  channels?: number;
  imageSize?: number;
  maxBatches?: number;
  maxEvalImages?: number;
  seed?: number;
  checkpoint?: string;
  metrics?: string;
  onnx?: string;
  dryRun?: boolean;
  json?: boolean;
  backend: string;
  device: number;
}

/**
 * Registers the shared training flags. None has a default here: an absent flag leaves the field to
 * the recipe (`--preset`), else to `train()`'s generic defaults.
 */
export function addTrainingFlags(cmd: Command): Command {
  return cmd
    .option('--data <dir>', 'folder of the data set')
    .option('--stem-multiplier <m>', 'stem filters multiplier', numArg('--stem-multiplier'))
    .option('--epochs <E>', 'epochs (recipe: 600 CIFAR, 312 ImageNet; else 1)', intArg('--epochs'))
    .option('--batch <B>', 'batch size (recipe: the paper\'s per-replica batch; else 64)', intArg('--batch'))
    .option('--lr <lr>', 'initial learning rate (recipe: its per-replica rate scaled linearly to --batch)', numArg('--lr'))
    .option('--optimizer <o>', 'sgd (cosine decay) or rmsprop (exponential decay)')
    .option('--weight-decay <wd>', 'L2 weight decay (not BN, not biases)', numArg('--weight-decay'))
    .option('--clip-norm <c>', 'clip the global gradient norm (0 = off)', numArg('--clip-norm'))
    .option('--drop-path-keep <p>', 'ScheduledDropPath final keep probability (1 = off)', numArg('--drop-path-keep'))
    .option('--drop-path-mode <m>', 'layer-and-time (slim v3, the paper\'s), time (v1) or layer (v2)')
    .option('--label-smoothing <s>', 'label smoothing', numArg('--label-smoothing'))
    .option('--dense-dropout-keep <p>', 'keep probability of the dropout before the classifier', numArg('--dense-dropout-keep'))
    .option('--no-aux', 'no auxiliary head')
    .option('--cutout <px>', 'cutout square side (0 = off)', intArg('--cutout'))
    .option('--ema <decay>', 'parameter EMA decay for evaluation and export (0 = off)', numArg('--ema'))
    .option('--full-train', 'train on the whole training split (no validation images held out)')
    .option('--no-full-train', 'hold out the validation split even when the recipe trains on everything')
    .option('--channels <c>', 'channels fed to the network (1 or 3)', intArg('--channels'))
    .option('--image-size <s>', 'image side fed to the network (e.g. 32 pads 28×28 Fashion-MNIST)', intArg('--image-size'))
    .option('--max-batches <k>', 'at most k training batches per epoch', intArg('--max-batches'))
    .option('--max-eval-images <k>', 'evaluate on at most k images', intArg('--max-eval-images'))
    .option('--seed <s>', 'seed', intArg('--seed'))
    .option('--checkpoint <file>', 'checkpoint after every epoch; resume from it when it exists')
    .option('--metrics <file>', 'append per-epoch metrics as JSON lines')
    .option('--onnx <file>', 'export the trained model to ONNX')
    .option('--backend <b>', 'cpu, cuda, or auto (cuda when a device is usable)', 'cpu')
    .option('--device <i>', 'CUDA device index', intArg('--device'), 0)
    .option('--dry-run', 'print the resolved architecture, recipe, counts and step count; train nothing')
    .option('--json', 'print the result as JSON');
}

/**
 * The `train()` options of the shared flags (network flags go into `network`).
 * @param o - parsed flags
 * @param network - network options from the command's own flags
 */
export function trainingOptions(o: TrainingFlags, network: NetworkOptions): Omit<TrainOptions, 'genotype' | 'dataset' | 'preset'> {
  if (o.optimizer !== undefined) choiceArg(o.optimizer, '--optimizer', ['sgd', 'rmsprop'] as const);
  if (o.dropPathMode !== undefined) choiceArg(o.dropPathMode, '--drop-path-mode', DROP_PATH_MODES);
  if (o.channels !== undefined) checkChoice(o.channels, '--channels', [1, 3] as const);
  if (o.onnx !== undefined && !o.dryRun) checkWritableFile(o.onnx, '--onnx'); // now, not after training
  const net: NetworkOptions = { ...network };
  if (o.stemMultiplier !== undefined) net.stemMultiplier = o.stemMultiplier;
  if (o.labelSmoothing !== undefined) net.labelSmoothing = o.labelSmoothing;
  if (o.denseDropoutKeep !== undefined) net.denseDropoutKeep = o.denseDropoutKeep;
  if (o.aux === false) net.auxHead = false;
  return {
    dataDir: o.data,
    dataOptions: { channels: o.channels as 1 | 3 | undefined, size: o.imageSize },
    network: net,
    epochs: o.epochs,
    batchSize: o.batch,
    lr: o.lr,
    optimizer: o.optimizer,
    weightDecay: o.weightDecay,
    clipNorm: o.clipNorm,
    dropPathKeep: o.dropPathKeep,
    dropPathMode: o.dropPathMode,
    cutout: o.cutout,
    ema: o.ema,
    fullTrainingSet: o.fullTrain,
    maxBatchesPerEpoch: o.maxBatches,
    maxEvalImages: o.maxEvalImages,
    seed: o.seed,
    backend: choiceArg(o.backend, '--backend', BACKEND_CHOICES),
    device: checkInteger(o.device, '--device', { min: 0 }),
    checkpoint: o.checkpoint,
    metricsFile: o.metrics,
    progress: !o.json && process.stderr.isTTY !== false,
    onLog: (line) => process.stderr.write(`nasnet: ${line}\n`),
  };
}

/** The result line(s) of a finished run. */
export function finalLine(setup: TrainingSetup, accuracy: number, epochs: number, diverged: boolean): string {
  const split = setup.data.evalSplit;
  const acc = split === null ? 'no evaluation split' : `${split} accuracy ${(100 * accuracy).toFixed(2)}%`;
  return `${acc} after ${epochs} epoch(s)${diverged ? ' (diverged)' : ''}\n`;
}
