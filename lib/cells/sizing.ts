/**
 * Sizing a searched cell for transfer: the filter count F that gives a network about as many
 * parameters as a reference (NASNet-A at the same scale: the fair comparison the paper makes), by
 * bisection on F, since the parameter count grows with F.
 */
import { ValidationError } from '../errors.js';
import { checkNumber } from '../util/check.js';
import { countGenotype } from './counts.js';
import type { Genotype } from './genotype-types.js';
import type { NetworkOptions } from './network.js';

/** What {@link matchParams} chose. */
export interface MatchedFilters {
  /** F of the first stack. */
  filters: number;
  /** Trainable parameters at that F (auxiliary head excluded, as the paper counts). */
  params: number;
  multAdds: number;
  /** The parameter count aimed at. */
  target: number;
}

/** The largest F tried (NASNet-A large is F = 168). */
const MAX_FILTERS = 4096;

/**
 * The F whose network has the parameter count closest to `target` (ties to the smaller F).
 *
 * @param genotype - the cells to size
 * @param target - parameters to match, e.g. NASNet-A's at this scale
 * @param options - every other network option (N, stem, classes, input size, ...); `filters` and
 *   `penultimate` are ignored
 * @throws ValidationError when even F = 1 has more parameters than the target
 * @example
 * const ref = countGenotype(NASNET_A, presetOptions('nasnet-a-mobile')).params;
 * matchParams(searched, ref, presetOptions('nasnet-a-mobile')).filters;
 */
export function matchParams(genotype: Genotype, target: number, options: NetworkOptions): MatchedFilters {
  checkNumber(target, 'target parameter count', { min: 0, minOpen: true });
  const { filters: _f, penultimate: _p, ...rest } = options;
  const memo = new Map<number, { params: number; multAdds: number }>();
  const count = (f: number) => {
    let c = memo.get(f);
    if (!c) {
      const r = countGenotype(genotype, { ...rest, filters: f });
      c = { params: r.params, multAdds: r.multAdds };
      memo.set(f, c);
    }
    return c;
  };
  // The smallest F that builds (the ImageNet stem's first cell has F / 4 filters).
  let first = 1;
  while (first < 16) {
    try {
      count(first);
      break;
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      first++;
    }
  }
  if (count(first).params > target) {
    throw new ValidationError(`cannot match ${target} parameters: even F = ${first} gives ${count(first).params}`);
  }
  // Smallest F with params >= target, in [first, MAX_FILTERS].
  let lo = first;
  let hi = MAX_FILTERS;
  if (count(hi).params < target) {
    throw new ValidationError(`cannot match ${target} parameters: F = ${MAX_FILTERS} gives only ${count(hi).params}`);
  }
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (count(mid).params >= target) hi = mid;
    else lo = mid + 1;
  }
  const above = lo;
  const below = Math.max(first, lo - 1);
  const pick = Math.abs(count(below).params - target) <= Math.abs(count(above).params - target) ? below : above;
  return { filters: pick, ...count(pick), target };
}
