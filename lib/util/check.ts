/**
 * The one set of argument validators (sharp's `lib/is.js`): every public option, CLI argument and
 * job payload field is checked here, with one signature, `checkX(value, field, constraint?)`, and
 * one message, `Expected <what> for <field> but received <value> of type <type>`, prefixed by
 * `<where>: ` when the caller says who is checking.
 *
 * @example
 * checkInteger(-3, 'batchSize');
 * // ValidationError: Expected positive integer for batchSize but received -3 of type number
 * checkNumber(2, 'beta1', { min: 0, max: 1, maxOpen: true, where: 'Adam' });
 * // ValidationError: Adam: expected finite number in [0, 1) for beta1 but received 2 of type number
 */
import { ValidationError } from '../errors.js';

/** Who is checking, named before the message (e.g. `'ppo'`, `'Adam.load'`); optional. */
export interface Where {
  where?: string;
}

/** Bounds of a number; each end is closed unless said open. */
export interface Range extends Where {
  /** Smallest allowed value; default -∞ (numbers) or 1 (integers). */
  min?: number;
  /** Largest allowed value; default +∞ (numbers) or `Number.MAX_SAFE_INTEGER` (integers). */
  max?: number;
  /** Exclude `min` itself. */
  minOpen?: boolean;
  /** Exclude `max` itself. */
  maxOpen?: boolean;
}

/**
 * How a received value reads in a message: `-3 of type number`, `"abc" of type string`, `null`,
 * `[1,2,3] (an array)`.
 * @param value - anything
 * @example received(1.5) // '1.5 of type number'
 */
export function received(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) {
    const text = safeJson(value);
    return text.length <= 60 ? `${text} (an array)` : `an array of length ${value.length}`;
  }
  if (typeof value === 'string') return `${JSON.stringify(value)} of type string`;
  if (typeof value === 'object') return `${value.constructor?.name ?? 'Object'} of type object`;
  return `${String(value)} of type ${typeof value}`;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * The error every check throws: `[<where>: e|E]xpected <expected> for <field> but received <got>`.
 * Use it for a condition no `check*` function covers, so the message keeps the one form.
 * @param field - the option's name or path, e.g. `proxy.batchSize`, `--lr`
 * @param expected - what was expected, e.g. `a multiple of 24`
 * @param got - what was received, usually {@link received}`(value)`
 * @param where - who is checking, if anyone
 * @example throw invalid('penultimate', 'a multiple of 24 (P = 24 F)', received(100));
 */
export function invalid(field: string, expected: string, got: string, where?: string): ValidationError {
  const head = where ? `${where}: expected` : 'Expected';
  return new ValidationError(`${head} ${expected} for ${field} but received ${got}`);
}

function inRange(v: number, r: Range, min: number, max: number): boolean {
  return (r.minOpen ? v > min : v >= min) && (r.maxOpen ? v < max : v <= max);
}

function interval(r: Range, min: number, max: number, noMin: number, noMax: number): string {
  const hasMin = min !== noMin;
  const hasMax = max !== noMax;
  if (hasMin && hasMax) return ` in ${r.minOpen ? '(' : '['}${min}, ${max}${r.maxOpen ? ')' : ']'}`;
  if (hasMin) return ` ${r.minOpen ? '>' : '>='} ${min}`;
  if (hasMax) return ` ${r.maxOpen ? '<' : '<='} ${max}`;
  return '';
}

/**
 * An integer in a range (default: positive, i.e. `{ min: 1 }`; at most `Number.MAX_SAFE_INTEGER`).
 * @param value - the value to check
 * @param field - its name, e.g. `batchSize`
 * @param range - bounds and the checker's name; default `{ min: 1 }`
 * @returns the value, typed
 * @throws ValidationError `Expected positive integer for batchSize but received -3 of type number`
 * @example checkInteger(0, 'prefetch', { min: 0 }) // 0
 */
export function checkInteger(value: unknown, field: string, range: Range = {}): number {
  const min = range.min ?? 1;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  if (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) <= Number.MAX_SAFE_INTEGER && inRange(value, range, min, max)) {
    return value;
  }
  let what: string;
  if (max === Number.MAX_SAFE_INTEGER && !range.minOpen && (min === 1 || min === 0)) what = min === 1 ? 'positive integer' : 'non-negative integer';
  else what = `integer${interval(range, min, max, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)}`;
  throw invalid(field, what, received(value), range.where);
}

/**
 * A finite number in a range (default: any finite number).
 * @param value - the value to check
 * @param field - its name, e.g. `lr`
 * @param range - bounds and the checker's name; default unbounded
 * @returns the value, typed
 * @throws ValidationError `Expected finite number in (0, 1] for denseDropoutKeep but received 0 of type number`
 * @example checkNumber(0.1, 'lr', { min: 0, minOpen: true }) // 0.1
 */
export function checkNumber(value: unknown, field: string, range: Range = {}): number {
  const min = range.min ?? Number.NEGATIVE_INFINITY;
  const max = range.max ?? Number.POSITIVE_INFINITY;
  if (typeof value === 'number' && Number.isFinite(value) && inRange(value, range, min, max)) return value;
  const what = `finite number${interval(range, min, max, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY)}`;
  throw invalid(field, what, received(value), range.where);
}

/**
 * A boolean.
 * @param value - the value to check
 * @param field - its name
 * @param where - the checker's name, if any
 * @throws ValidationError `Expected boolean for auxHead but received "yes" of type string`
 * @example checkBoolean(true, 'profile') // true
 */
export function checkBoolean(value: unknown, field: string, where: Where = {}): boolean {
  if (typeof value === 'boolean') return value;
  throw invalid(field, 'boolean', received(value), where.where);
}

/**
 * A string (non-empty by default).
 * @param value - the value to check
 * @param field - its name
 * @param options - `allowEmpty` (default false), the checker's name
 * @throws ValidationError `Expected non-empty string for runId but received "" of type string`
 * @example checkString('r1', 'runId') // 'r1'
 */
export function checkString(value: unknown, field: string, options: Where & { allowEmpty?: boolean } = {}): string {
  if (typeof value === 'string' && (options.allowEmpty || value.length > 0)) return value;
  throw invalid(field, options.allowEmpty ? 'string' : 'non-empty string', received(value), options.where);
}

/**
 * One of a fixed list of strings (or numbers).
 * @param value - the value to check
 * @param field - its name
 * @param choices - the allowed values
 * @param where - the checker's name, if any
 * @throws ValidationError `Expected one of 'cpu', 'cuda' for backend but received "tpu" of type string`
 * @example checkChoice('cifar', 'stem', ['cifar', 'imagenet'] as const) // 'cifar'
 */
export function checkChoice<T extends string | number>(value: unknown, field: string, choices: readonly T[], where: Where = {}): T {
  if ((typeof value === 'string' || typeof value === 'number') && choices.includes(value as T)) return value as T;
  throw invalid(field, choiceList(choices), received(value), where.where);
}

function choiceList(choices: readonly (string | number)[]): string {
  const list = choices.map((c) => (typeof c === 'string' ? `'${c}'` : String(c)));
  if (list.length === 1) return list[0];
  return list.length === 2 ? `${list[0]} or ${list[1]}` : `one of ${list.join(', ')}`;
}

/**
 * A plain object (not null, not an array) whose keys are all in `known`, when given.
 * @param value - the value to check
 * @param field - its name, e.g. `network options`
 * @param options - `known`: the allowed keys (an unknown one is named in the error), the checker's name
 * @throws ValidationError `Unknown key 'filter' in network options (known: stem, filters, …)` or
 *   `Expected object for proxy but received null`
 * @example checkObject({ a: 1 }, 'options', { known: ['a', 'b'] })
 */
export function checkObject(value: unknown, field: string, options: Where & { known?: readonly string[] } = {}): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid(field, 'object', received(value), options.where);
  const obj = value as Record<string, unknown>;
  if (options.known) {
    for (const k of Object.keys(obj)) {
      if (!options.known.includes(k)) {
        const head = options.where ? `${options.where}: unknown` : 'Unknown';
        throw new ValidationError(`${head} key '${k}' in ${field} (known: ${options.known.join(', ')})`);
      }
    }
  }
  return obj;
}

/**
 * An array (of a given length, when given).
 * @param value - the value to check
 * @param field - its name
 * @param options - `length`: the required length; the checker's name
 * @throws ValidationError `Expected array for state.pending but received "x" of type string`
 * @example checkArray([1, 2], 'inputs', { length: 2 })
 */
export function checkArray(value: unknown, field: string, options: Where & { length?: number } = {}): unknown[] {
  if (Array.isArray(value) && (options.length === undefined || value.length === options.length)) return value;
  throw invalid(field, options.length === undefined ? 'array' : `array of length ${options.length}`, received(value), options.where);
}

/**
 * A command-line parser (commander's `argParser`) for an integer option; the range is checked by
 * the API the value goes to, so that CLI and API report the same bounds.
 * @param field - the option, e.g. `--batch`
 * @returns `(text) => number`, throwing `Expected integer for --batch but received '1.5'`
 * @example program.option('--batch <B>', 'batch size', intArg('--batch'), 32)
 */
export function intArg(field: string): (text: string) => number {
  return (text) => parseArg(text, field, 'integer', Number.isSafeInteger);
}

/**
 * A command-line parser for a number option (finite); see {@link intArg}.
 * @param field - the option, e.g. `--lr`
 * @returns `(text) => number`, throwing `Expected number for --lr but received 'fast'`
 * @example program.option('--lr <lr>', 'learning rate', numArg('--lr'), 0.05)
 */
export function numArg(field: string): (text: string) => number {
  return (text) => parseArg(text, field, 'number', Number.isFinite);
}

function parseArg(text: string, field: string, what: string, ok: (n: number) => boolean): number {
  const n = text.trim() === '' ? Number.NaN : Number(text);
  if (ok(n)) return n;
  throw invalid(field, what, `'${text}'`);
}

/**
 * A command-line choice (e.g. `--strategy`), checked after parsing.
 * @param text - the argument as typed
 * @param field - the option
 * @param choices - the allowed values
 * @throws ValidationError `Expected one of 'ppo', 'random' for --strategy but received 'sgd'`
 * @example const s = choiceArg(o.strategy, '--strategy', STRATEGY_NAMES);
 */
export function choiceArg<T extends string>(text: string, field: string, choices: readonly T[]): T {
  if (choices.includes(text as T)) return text as T;
  throw invalid(field, choiceList(choices), `'${text}'`);
}
