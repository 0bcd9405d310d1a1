import type { Command } from 'commander';
import type { NetworkOptions } from '../cells/network.js';
import { writeOnnx } from '../onnx/export.js';
import { formatSetup, setupSummary } from '../train/setup.js';
import { TRANSFER_TARGETS, type TransferResult, transfer } from '../train/transfer.js';
import { choiceArg, intArg } from '../util/check.js';
import { resolveGenotypeArg } from './genotype-arg.js';
import { addTrainingFlags, finalLine, type TrainingFlags, trainingOptions } from './train-options.js';

interface TransferCli extends TrainingFlags {
  to: string;
  dataset?: string;
  n?: number;
  filters?: number;
  penultimate?: number;
  matchParams?: string;
}

const n = (v: number): string => v.toLocaleString('en-US');

/**
 * The side-by-side table of the searched network and NASNet-A at the same scale.
 * @param r - a transfer result
 */
export function comparisonTable(r: TransferResult): string {
  const rows = [
    ['', 'network', 'params', 'mult-adds'],
    ['searched', r.searched.name, n(r.searched.params), n(r.searched.multAdds)],
    ['NASNet-A', r.reference.name, n(r.reference.params), n(r.reference.multAdds)],
    ['ratio', '', (r.searched.params / r.reference.params).toFixed(3), (r.searched.multAdds / r.reference.multAdds).toFixed(3)],
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return `${rows.map((row) => row.map((cell, c) => (c === 0 || c === 1 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd()).join('\n')}\n`;
}

/** Registers `nasnet transfer`. */
export function registerTransfer(program: Command): void {
  const cmd = program
    .command('transfer')
    .description("build a searched cell at a published scale, compare it with NASNet-A there, and train it with the paper's recipe")
    .argument('<genotype>', "a search's best.json, a genotype JSON file, inline JSON, or a named genotype")
    .requiredOption('--to <scale>', `${Object.keys(TRANSFER_TARGETS).join(', ')}: CIFAR-10 6@768, ImageNet mobile 4@1056 at 224, large 6@4032 at 331`)
    .option('--dataset <d>', "the data set (default: the recipe's: cifar10 or imagenet)")
    .option('--n <N>', 'normal cells per stack (default: the scale\'s)', intArg('--n'))
    .option('--filters <F>', 'size the searched network with this F', intArg('--filters'))
    .option('--penultimate <P>', "size it by its penultimate width: F = P / (4 × the cell's output width)", intArg('--penultimate'))
    .option('--match-params <g>', 'pick F so it has about as many parameters as this genotype at the same scale (nasnet-a: the paper\'s comparison)');
  addTrainingFlags(cmd).action(async (genotypeArg: string, o: TransferCli) => {
    const to = choiceArg(o.to, '--to', Object.keys(TRANSFER_TARGETS) as (keyof typeof TRANSFER_TARGETS)[]);
    const genotype = resolveGenotypeArg(genotypeArg);
    const network: NetworkOptions = {};
    if (o.n !== undefined) network.cellsPerStack = o.n;
    const head = (r: TransferResult): string => {
      const sized = { target: `the ${o.to} scale's F`, filters: '--filters', penultimate: '--penultimate', 'match-params': `--match-params ${o.matchParams}` }[r.sizing];
      return `${o.to} scale, recipe ${r.preset}, sized by ${sized}: F = ${r.searched.F}\n${comparisonTable(r)}`;
    };
    const r = await transfer({
      ...trainingOptions(o, network),
      genotype,
      to,
      dataset: o.dataset,
      filters: o.filters,
      penultimate: o.penultimate,
      matchParams: o.matchParams !== undefined ? resolveGenotypeArg(o.matchParams) : undefined,
      dryRun: o.dryRun,
      // The comparison goes out before training starts.
      onCompared: (c) => {
        if (!o.json && !o.dryRun) process.stdout.write(head(c));
      },
    });
    if (o.dryRun) {
      process.stdout.write(o.json ? `${JSON.stringify({ ...comparisonJson(r), setup: setupSummary(r.setup) })}\n` : `${head(r)}${formatSetup(r.setup)}`);
      return;
    }
    const t = r.train!;
    if (o.onnx) writeOnnx(o.onnx, t.network.inference, t.store, { docString: JSON.stringify({ genotype }), useEma: t.hyper.ema > 0 });
    if (o.json) {
      process.stdout.write(`${JSON.stringify({ ...comparisonJson(r), accuracy: t.accuracy, diverged: t.diverged, epochs: t.epochs })}\n`);
    } else {
      process.stdout.write(finalLine(t.setup, t.accuracy, t.epochs.length, t.diverged));
    }
    if (t.diverged) process.exitCode = 2;
  });
}

function comparisonJson(r: TransferResult) {
  return { preset: r.preset, sizing: r.sizing, searched: r.searched, reference: r.reference };
}
