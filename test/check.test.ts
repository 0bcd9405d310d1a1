import { describe, expect, it } from 'vitest';
import { ValidationError } from '../lib/errors.js';
import {
  checkArray,
  checkBoolean,
  checkChoice,
  checkInteger,
  checkNumber,
  checkObject,
  checkString,
  choiceArg,
  intArg,
  numArg,
  received,
} from '../lib/util/check.js';

describe('the validators (one module, one message form)', () => {
  it('describe what they received', () => {
    expect(received(-3)).toBe('-3 of type number');
    expect(received('x')).toBe('"x" of type string');
    expect(received(null)).toBe('null');
    expect(received(undefined)).toBe('undefined');
    expect(received([1, 2])).toBe('[1,2] (an array)');
    expect(received(new Array(100).fill(0))).toBe('an array of length 100');
    expect(received(new Float32Array(2))).toBe('Float32Array of type object');
  });

  it('check integers: positive by default, any range, safe integers only', () => {
    expect(checkInteger(3, 'batchSize')).toBe(3);
    expect(() => checkInteger(-3, 'batchSize')).toThrow(
      new ValidationError('Expected positive integer for batchSize but received -3 of type number'),
    );
    expect(() => checkInteger(1.5, 'seed', { min: 0 })).toThrow('Expected non-negative integer for seed but received 1.5 of type number');
    expect(() => checkInteger(1, 'populationSize', { min: 2, where: 'evolution' })).toThrow(
      'evolution: expected integer >= 2 for populationSize but received 1 of type number',
    );
    expect(() => checkInteger(5, 'v', { min: 0, max: 5, maxOpen: true })).toThrow('Expected integer in [0, 5) for v but received 5 of type number');
    expect(() => checkInteger(2 ** 60, 'seed', { min: Number.MIN_SAFE_INTEGER })).toThrow('Expected integer for seed');
    expect(() => checkInteger('3', 'n')).toThrow('Expected positive integer for n but received "3" of type string');
    expect(checkInteger(-7, 'seed', { min: Number.MIN_SAFE_INTEGER })).toBe(-7);
  });

  it('check finite numbers with open or closed ends', () => {
    expect(checkNumber(0.5, 'p', { min: 0, max: 1 })).toBe(0.5);
    expect(() => checkNumber(0, 'lr', { min: 0, minOpen: true })).toThrow('Expected finite number > 0 for lr but received 0 of type number');
    expect(() => checkNumber(1, 'beta1', { min: 0, max: 1, maxOpen: true, where: 'Adam' })).toThrow(
      'Adam: expected finite number in [0, 1) for beta1 but received 1 of type number',
    );
    expect(() => checkNumber(Number.NaN, 'x')).toThrow('Expected finite number for x but received NaN of type number');
    expect(() => checkNumber(Number.POSITIVE_INFINITY, 'x', { max: 3 })).toThrow('Expected finite number <= 3 for x');
  });

  it('check booleans, strings, choices, objects and arrays', () => {
    expect(() => checkBoolean('yes', 'fuse')).toThrow('Expected boolean for fuse but received "yes" of type string');
    expect(() => checkString('', 'runId')).toThrow('Expected non-empty string for runId but received "" of type string');
    expect(checkString('', 'note', { allowEmpty: true })).toBe('');
    expect(checkChoice('sgd', 'optimizer', ['sgd', 'rmsprop'] as const)).toBe('sgd');
    expect(() => checkChoice('adam', 'optimizer', ['sgd', 'rmsprop'])).toThrow(
      "Expected 'sgd' or 'rmsprop' for optimizer but received \"adam\" of type string",
    );
    expect(() => checkChoice(2, 'outputChannels', [1, 3])).toThrow('Expected 1 or 3 for outputChannels but received 2 of type number');
    expect(() => checkChoice('x', 'b', ['cpu', 'cuda', 'auto'])).toThrow("Expected one of 'cpu', 'cuda', 'auto' for b");
    expect(() => checkObject([], 'options')).toThrow('Expected object for options but received [] (an array)');
    expect(() => checkObject({ colour: 1 }, 'network options', { known: ['stem'] })).toThrow(
      "Unknown key 'colour' in network options (known: stem)",
    );
    expect(() => checkArray([1], 'inputs', { length: 2, where: 'node a' })).toThrow(
      'node a: expected array of length 2 for inputs but received [1] (an array)',
    );
  });

  it('parse command-line arguments, naming the option and the text as typed', () => {
    expect(intArg('--batch')('32')).toBe(32);
    expect(() => intArg('--batch')('1.5')).toThrow("Expected integer for --batch but received '1.5'");
    expect(() => intArg('--n')('')).toThrow("Expected integer for --n but received ''");
    expect(numArg('--lr')('1e-3')).toBe(0.001);
    expect(() => numArg('--lr')('fast')).toThrow("Expected number for --lr but received 'fast'");
    expect(choiceArg('cpu', '--backend', ['cpu', 'cuda'] as const)).toBe('cpu');
    expect(() => choiceArg('gpu', '--backend', ['cpu', 'cuda', 'auto'])).toThrow(
      "Expected one of 'cpu', 'cuda', 'auto' for --backend but received 'gpu'",
    );
  });
});
