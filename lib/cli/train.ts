import type { Command } from 'commander';
import { NASNET_A } from '../cells/genotypes.js';
import type { NetworkOptions } from '../cells/network.js';
import { PRESET_NAMES, type PresetName } from '../cells/presets.js';
import { writeOnnx } from '../onnx/export.js';
import { RECIPES } from '../train/recipes.js';
import { formatSetup, setupSummary, setupTraining, type TrainOptions } from '../train/setup.js';
import { runTraining } from '../train/train.js';
import { choiceArg, intArg } from '../util/check.js';
import { resolveGenotypeArg } from './genotype-arg.js';
import { addTrainingFlags, finalLine, type TrainingFlags, trainingOptions } from './train-options.js';

interface TrainCli extends TrainingFlags {
  preset?: string;
  genotype?: string;
  dataset?: string;
  n?: number;
  penultimate?: number;
  filters?: number;
  stem?: 'cifar' | 'imagenet';
}

/** Registers `nasnet train`. */
export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description('train a network stacked from a genotype on a data set, with a paper recipe (--preset) or the generic defaults')
    .option('--preset <name>', `the paper's recipe and architecture: ${PRESET_NAMES.join(', ')} (every other flag overrides one field)`)
    .option('--genotype <g>', 'a named genotype, a genotype JSON file (or a search best.json), or inline JSON', 'nasnet-a')
    .option('--dataset <d>', 'cifar10, cifar100, fashion-mnist, fashion-mnist-mini, mnist, imagenet, folder:PATH (default: the recipe\'s, else cifar10)')
    .option('--n <N>', 'normal cells per stack (default 6, or the recipe\'s)', intArg('--n'))
    .option('--penultimate <P>', 'penultimate filters: F = P / (4 × the cell\'s output width), P = 24 F for NASNet-A', intArg('--penultimate'))
    .option('--filters <F>', 'filters of the first stack', intArg('--filters'))
    .option('--stem <s>', 'cifar or imagenet (default: imagenet for inputs of 128 px and more)');
  addTrainingFlags(cmd).action(async (o: TrainCli) => {
    const preset: PresetName | undefined = o.preset === undefined ? undefined : choiceArg(o.preset, '--preset', PRESET_NAMES);
    if (o.stem !== undefined) choiceArg(o.stem, '--stem', ['cifar', 'imagenet'] as const);
    const genotype = o.genotype ? resolveGenotypeArg(o.genotype) : NASNET_A;
    const network: NetworkOptions = {};
    if (o.n !== undefined) network.cellsPerStack = o.n;
    if (o.penultimate !== undefined) network.penultimate = o.penultimate;
    if (o.filters !== undefined) network.filters = o.filters;
    if (o.stem !== undefined) network.stem = o.stem;
    const options: TrainOptions = {
      ...trainingOptions(o, network),
      genotype,
      preset,
      dataset: o.dataset ?? (preset ? RECIPES[preset].dataset : 'cifar10'),
    };
    const setup = await setupTraining(options, o.dryRun === true);
    if (o.dryRun) {
      process.stdout.write(o.json ? `${JSON.stringify(setupSummary(setup))}\n` : formatSetup(setup));
      return;
    }
    const r = await runTraining(setup, options);
    if (o.onnx) writeOnnx(o.onnx, r.network.inference, r.store, { docString: JSON.stringify({ genotype }), useEma: r.hyper.ema > 0 });
    const summary = {
      network: r.network.meta.name,
      preset: preset ?? null,
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
          finalLine(r.setup, r.accuracy, r.epochs.length, r.diverged),
      );
    }
    if (r.diverged) process.exitCode = 2;
  });
}
