import type { Command } from 'commander';
import { NASNET_A } from '../cells/genotypes.js';
import { writeOnnx } from '../onnx/export.js';
import { train } from '../train/train.js';
import { checkChoice, checkInteger, intArg, numArg } from '../util/check.js';
import { checkWritableFile } from '../util/writable.js';
import { resolveGenotypeArg } from './genotype-arg.js';

interface TrainCli {
  genotype?: string;
  dataset: string;
  data?: string;
  n: number;
  penultimate: number;
  stemMultiplier?: number;
  epochs: number;
  batch: number;
  lr?: number;
  optimizer: 'sgd' | 'rmsprop';
  weightDecay: number;
  dropPathKeep: number;
  labelSmoothing: number;
  aux: boolean;
  cutout?: number;
  channels?: number;
  imageSize?: number;
  maxBatches?: number;
  seed: number;
  checkpoint?: string;
  metrics?: string;
  onnx?: string;
  json?: boolean;
  backend: string;
  device: number;
}

/** Registers `nasnet train`. */
export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train a network stacked from a genotype (N@P scaling) on a data set, with ScheduledDropPath')
    .option('--genotype <g>', 'a named genotype, a genotype JSON file (or a search best.json), or inline JSON', 'nasnet-a')
    .option('--dataset <d>', 'cifar10, cifar100, fashion-mnist, fashion-mnist-mini, mnist, imagenet, folder:PATH', 'cifar10')
    .option('--data <dir>', 'folder of the data set')
    .option('--n <N>', 'normal cells per stack', intArg('--n'), 6)
    .option('--penultimate <P>', 'penultimate filters (F = P / 24)', intArg('--penultimate'), 768)
    .option('--stem-multiplier <m>', 'stem filters multiplier', intArg('--stem-multiplier'))
    .option('--epochs <E>', 'epochs', intArg('--epochs'), 1)
    .option('--batch <B>', 'batch size', intArg('--batch'), 64)
    .option('--lr <lr>', 'initial learning rate (default 0.025 SGD, 0.04 RMSProp)', numArg('--lr'))
    .option('--optimizer <o>', 'sgd (cosine decay) or rmsprop (exponential decay)', 'sgd')
    .option('--weight-decay <wd>', 'L2 weight decay', numArg('--weight-decay'), 5e-4)
    .option('--drop-path-keep <p>', 'ScheduledDropPath final keep probability (1 = off)', numArg('--drop-path-keep'), 0.6)
    .option('--label-smoothing <s>', 'label smoothing', numArg('--label-smoothing'), 0)
    .option('--no-aux', 'no auxiliary head')
    .option('--cutout <px>', 'cutout square side', intArg('--cutout'))
    .option('--channels <c>', 'channels fed to the network (1 or 3)', intArg('--channels'))
    .option('--image-size <s>', 'image side fed to the network (e.g. 32 pads 28×28 Fashion-MNIST)', intArg('--image-size'))
    .option('--max-batches <k>', 'at most k training batches per epoch', intArg('--max-batches'))
    .option('--seed <s>', 'seed', intArg('--seed'), 0)
    .option('--checkpoint <file>', 'checkpoint after every epoch; resume from it when it exists')
    .option('--metrics <file>', 'append per-epoch metrics as JSON lines')
    .option('--onnx <file>', 'export the trained model to ONNX')
    .option('--json', 'print the result as JSON')
    .option('--backend <b>', 'cpu, cuda, or auto (cuda when a device is usable)', 'cpu')
    .option('--device <i>', 'CUDA device index', intArg('--device'), 0)
    .action(async (o: TrainCli) => {
      const genotype = o.genotype ? resolveGenotypeArg(o.genotype) : NASNET_A;
      if (o.onnx) checkWritableFile(o.onnx, '--onnx'); // now, not after training
      const r = await train({
        genotype,
        dataset: o.dataset,
        dataDir: o.data,
        dataOptions: { channels: o.channels as 1 | 3 | undefined, size: o.imageSize },
        network: { cellsPerStack: o.n, penultimate: o.penultimate, stemMultiplier: o.stemMultiplier, auxHead: o.aux, labelSmoothing: o.labelSmoothing },
        epochs: o.epochs,
        batchSize: o.batch,
        lr: o.lr,
        optimizer: o.optimizer,
        weightDecay: o.weightDecay,
        dropPathKeep: o.dropPathKeep,
        cutout: o.cutout,
        maxBatchesPerEpoch: o.maxBatches,
        seed: o.seed,
        backend: checkChoice(o.backend, '--backend', ['auto', 'cpu', 'cuda'] as const),
        device: checkInteger(o.device, '--device', { min: 0 }),
        checkpoint: o.checkpoint,
        metricsFile: o.metrics,
        progress: !o.json && process.stderr.isTTY !== false,
      });
      if (o.onnx) writeOnnx(o.onnx, r.network.inference, r.store, { docString: JSON.stringify({ genotype }) });
      const summary = {
        network: r.network.meta.name,
        params: r.params,
        multAdds: r.multAdds,
        accuracy: r.accuracy,
        diverged: r.diverged,
        epochs: r.epochs,
      };
      if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else {
        process.stdout.write(
          `${r.network.meta.name}: ${(r.params / 1e6).toFixed(2)}M params, ${(r.multAdds / 1e6).toFixed(1)}M mult-adds\n` +
            `test accuracy ${(100 * r.accuracy).toFixed(2)}% after ${r.epochs.length} epoch(s)${r.diverged ? ' (diverged)' : ''}\n`,
        );
      }
      if (r.diverged) process.exitCode = 2;
    });
}
