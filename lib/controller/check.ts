/**
 * Option checks shared by the strategies. Each throws a {@link ValidationError} naming the field.
 */
import { ValidationError } from '../errors.js';

/**
 * An integer within [min, max].
 * @param where - who is checking, e.g. `'ppo'`.
 * @param field - the option's name.
 * @param v - the value.
 * @param min - smallest allowed; default 1.
 * @param max - largest allowed; default Number.MAX_SAFE_INTEGER.
 * @example checkInteger('evolution', 'populationSize', 64); // 64
 */
export function checkInteger(where: string, field: string, v: unknown, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new ValidationError(
      `${where}: expected an integer ${range} for ${field} but received ${String(v)} of type ${typeof v}`,
    );
  }
  return v;
}

/**
 * A finite number within [min, max] (or (min, max] when `minOpen`).
 * @param where - who is checking.
 * @param field - the option's name.
 * @param v - the value.
 * @param min - lower bound.
 * @param max - upper bound; default +∞.
 * @param minOpen - exclude `min` itself; default false.
 * @example checkNumber('ppo', 'learningRate', 0.00035, 0, Infinity, true);
 */
export function checkNumber(
  where: string,
  field: string,
  v: unknown,
  min: number,
  max = Number.POSITIVE_INFINITY,
  minOpen = false,
): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (minOpen ? v <= min : v < min) || v > max) {
    const range = `${minOpen ? '(' : '['}${min}, ${max === Number.POSITIVE_INFINITY ? '∞)' : `${max}]`}`;
    throw new ValidationError(
      `${where}: expected a finite number in ${range} for ${field} but received ${String(v)} of type ${typeof v}`,
    );
  }
  return v;
}
