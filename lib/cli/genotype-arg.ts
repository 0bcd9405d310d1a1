import { existsSync, readFileSync, statSync } from 'node:fs';
import { parseGenotype } from '../cells/genotype.js';
import type { Genotype } from '../cells/genotype-types.js';
import { GENOTYPES } from '../cells/genotypes.js';
import { ValidationError } from '../errors.js';

/**
 * Resolves a `--genotype` argument: a named genotype (`nasnet-a`), a JSON file (a genotype, or a
 * search's `best.json` holding `{ genotype }`), or inline JSON.
 *
 * @param arg - the argument as typed
 */
export function resolveGenotypeArg(arg: string): Genotype {
  const named = GENOTYPES[arg.toLowerCase()];
  if (named) return named;
  let text = arg;
  let where = '--genotype';
  if (!arg.trim().startsWith('{')) {
    if (!existsSync(arg)) {
      throw new ValidationError(`--genotype '${arg}' is neither a named genotype (${Object.keys(GENOTYPES).join(', ')}) nor a file`);
    }
    if (!statSync(arg).isFile()) throw new ValidationError(`--genotype ${arg}: is a folder, expected a genotype JSON file (or a search's best.json)`);
    try {
      text = readFileSync(arg, 'utf8');
    } catch (err) {
      throw new ValidationError(`--genotype ${arg}: cannot read (${(err as Error).message})`);
    }
    where = arg;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ValidationError(`${where}: not valid JSON (${(err as Error).message})`);
  }
  const obj = value as { genotype?: unknown };
  try {
    return parseGenotype(obj && typeof obj === 'object' && 'genotype' in obj ? obj.genotype : value);
  } catch (err) {
    throw new ValidationError(`${where}: ${(err as Error).message}`);
  }
}
