import type { Command } from 'commander';
import { countGenotype } from '../cells/counts.js';
import { NASNET_A } from '../cells/genotypes.js';
import type { NetworkOptions } from '../cells/network.js';
import { PRESET_NAMES, presetOptions } from '../cells/presets.js';
import { choiceArg, intArg, numArg } from '../util/check.js';
import { resolveGenotypeArg } from './genotype-arg.js';

interface CountOpts {
  preset?: string;
  genotype?: string;
  dataset?: string;
  n?: number;
  penultimate?: number;
  filters?: number;
  stemMultiplier?: number;
  skipReductionInput?: boolean;
  image?: number;
  classes?: number;
  json?: boolean;
}

/** Registers `nasnet count`. */
export function registerCount(program: Command): void {
  program
    .command('count')
    .description('count trainable parameters and multiply-adds of a network (auxiliary head excluded)')
    .option('--preset <name>', `a published model: ${PRESET_NAMES.join(', ')}`)
    .option('--genotype <g>', 'a named genotype, a genotype JSON file, or inline JSON (default nasnet-a)')
    .option('--dataset <d>', "layout: 'cifar' (or cifar10/cifar100) or 'imagenet'", 'cifar')
    .option('--n <N>', 'normal cells per stack', intArg('--n'))
    .option('--penultimate <P>', "penultimate filters: F = P / (4 × the cell's output width), P = 24 F for NASNet-A", intArg('--penultimate'))
    .option('--filters <F>', 'filters of the first stack', intArg('--filters'))
    .option('--stem-multiplier <m>', 'stem filters multiplier (ImageNet: 1 mobile, 3 large)', numArg('--stem-multiplier'))
    .option('--skip-reduction-input', "slim's skip_reduction_layer_input (the large model)")
    .option('--image <S>', 'input size', intArg('--image'))
    .option('--classes <K>', 'classes', intArg('--classes'))
    .option('--json', 'print JSON')
    .action((o: CountOpts) => {
      let options: NetworkOptions;
      if (o.preset) {
        options = presetOptions(o.preset, {});
      } else {
        const d = choiceArg((o.dataset ?? 'cifar').toLowerCase(), '--dataset', ['cifar', 'cifar10', 'cifar100', 'imagenet'] as const);
        // The stem's network defaults are the paper's layout (ImageNet 224, 1000 classes; CIFAR 32, 10).
        options = d === 'imagenet' ? { stem: 'imagenet' } : { stem: 'cifar', ...(d === 'cifar100' ? { numClasses: 100 } : {}) };
      }
      if (o.n !== undefined) options = { ...options, cellsPerStack: o.n };
      if (o.penultimate !== undefined) {
        options = { ...options, penultimate: o.penultimate };
        delete options.filters;
      }
      if (o.filters !== undefined) options = { ...options, filters: o.filters };
      if (o.stemMultiplier !== undefined) options = { ...options, stemMultiplier: o.stemMultiplier };
      if (o.skipReductionInput) options = { ...options, skipReductionLayerInput: true };
      if (o.image !== undefined) options = { ...options, inputSize: o.image };
      if (o.classes !== undefined) options = { ...options, numClasses: o.classes };
      const genotype = o.genotype ? resolveGenotypeArg(o.genotype) : NASNET_A;
      const c = countGenotype(genotype, options);
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ params: c.params, multAdds: c.multAdds })}\n`);
      } else {
        process.stdout.write(`params: ${(c.params / 1e6).toFixed(2)}M (${c.params})\nmult-adds: ${(c.multAdds / 1e6).toFixed(1)}M (${c.multAdds})\n`);
      }
    });
}
