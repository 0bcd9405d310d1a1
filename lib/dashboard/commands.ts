/**
 * The commands a child's page offers: count and train its cells at the paper's CIFAR-10 scale, and
 * transfer them (when this nasnet has `nasnet transfer`).
 */
import { join } from 'node:path';

/** Quotes a word for a POSIX shell (single quotes; a quote inside becomes '\''). */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Commands for one child. The genotype is passed as `runs/X/best.json` for the run's best child
 * (the file the search keeps), else inline as JSON (`--genotype` takes either).
 *
 * @param o - `genotype`; `runPath`; `isBest`: the child is the one best.json holds; `transfer`: the
 *   CLI has `nasnet transfer`
 * @example
 * childCommands({ genotype: g, runPath: '/runs/x', isBest: true, transfer: false })[0].command;
 * // 'nasnet count --genotype /runs/x/best.json --dataset cifar10 --n 6 --penultimate 768'
 */
export function childCommands(o: { genotype: unknown; runPath: string; isBest: boolean; transfer: boolean }): { what: string; command: string }[] {
  const g = shellQuote(o.isBest ? join(o.runPath, 'best.json') : JSON.stringify(o.genotype));
  const out = [
    { what: 'parameters and multiply-adds of these cells at CIFAR-10 6@768', command: `nasnet count --genotype ${g} --dataset cifar10 --n 6 --penultimate 768` },
    {
      what: 'train these cells at the paper’s CIFAR-10 scale (6@768, 600 epochs, cutout)',
      command: `nasnet train --genotype ${g} --dataset cifar10 --n 6 --penultimate 768 --epochs 600 --cutout 16`,
    },
  ];
  if (o.transfer) {
    out.push({ what: 'transfer with the paper’s CIFAR-10 recipe', command: `nasnet transfer ${g} --to cifar` });
    out.push({ what: 'transfer with the paper’s ImageNet mobile recipe', command: `nasnet transfer ${g} --to mobile` });
  }
  return out;
}
