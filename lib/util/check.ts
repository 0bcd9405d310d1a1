import { ValidationError } from '../errors.js';

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `${typeof value === 'string' ? JSON.stringify(value) : String(value)} of type ${typeof value}`;
}

/**
 * Throws a {@link ValidationError} unless `value` is an integer >= `min`.
 * Message: `Expected positive integer for batchSize but received -3 of type number`.
 */
export function checkInteger(value: unknown, field: string, min = 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    const what = min === 1 ? 'positive integer' : min === 0 ? 'non-negative integer' : `integer >= ${min}`;
    throw new ValidationError(`Expected ${what} for ${field} but received ${describe(value)}`);
  }
  return value;
}

/** Throws a {@link ValidationError} unless `value` is a finite number in [min, max]. */
export function checkNumber(value: unknown, field: string, min = -Infinity, max = Infinity): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    const range = Number.isFinite(min) || Number.isFinite(max) ? ` in [${min}, ${max}]` : '';
    throw new ValidationError(`Expected finite number${range} for ${field} but received ${describe(value)}`);
  }
  return value;
}

/** Throws a {@link ValidationError} unless `value` is one of `choices`. */
export function checkChoice<T extends string>(value: unknown, field: string, choices: readonly T[]): T {
  if (typeof value !== 'string' || !choices.includes(value as T)) {
    throw new ValidationError(`Expected one of ${choices.map((c) => `'${c}'`).join(', ')} for ${field} but received ${describe(value)}`);
  }
  return value as T;
}
