import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { drawCell } from '../cells/draw.js';
import { choiceArg } from '../util/check.js';
import { checkWritableFile } from '../util/writable.js';
import { resolveGenotypeArg } from './genotype-arg.js';

/** Registers `nasnet draw`. */
export function registerDraw(program: Command): void {
  program
    .command('draw')
    .description('draw a cell of a genotype as SVG (like the paper figures)')
    .requiredOption('--genotype <g>', 'a named genotype, a genotype JSON file (or best.json), or inline JSON')
    .option('--cell <kind>', 'normal or reduction', 'normal')
    .option('--out <file>', 'write the SVG here (default: standard output)')
    .action((o: { genotype: string; cell: string; out?: string }) => {
      if (o.out) checkWritableFile(o.out, '--out');
      const svg = drawCell(resolveGenotypeArg(o.genotype), choiceArg(o.cell, '--cell', ['normal', 'reduction'] as const));
      if (o.out) writeFileSync(o.out, svg);
      else process.stdout.write(`${svg}\n`);
    });
}
