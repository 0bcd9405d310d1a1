/**
 * Checks of saved strategy states, so a corrupt or foreign file fails at load with a clear message.
 */
import { ValidationError } from '../errors.js';
import { checkArray, checkChoice, checkInteger, checkNumber, checkObject } from '../util/check.js';
import { Rng } from '../util/rng.js';
import { checkDecisions } from './decisions.js';
import type { SavedStrategyState } from './strategy.js';

/** The bookkeeping every strategy restores from its state: its generator and its two counters. */
export interface RestoredCounters {
  rng: Rng;
  nextId: number;
  observed: number;
}

/**
 * Check the fields every strategy state has (name, version, config, nextId, rng, observed) and
 * restore the generator and counters from them.
 * @param where - e.g. `'ppo.load'`.
 * @param state - the candidate state.
 * @param name - the expected name.
 * @param version - the expected version.
 * @example ({ rng: this.rng, nextId: this.nextId, observed: this.observed } = checkStateHeader('random.load', s, 'random', 1));
 */
export function checkStateHeader(where: string, state: SavedStrategyState, name: string, version: number): RestoredCounters {
  const s = checkObject(state, 'state', { where });
  checkChoice(s.name, 'state.name', [name], { where });
  checkChoice(s.version, 'state.version', [version], { where });
  checkObject(s.config, 'state.config', { where });
  const nextId = checkInteger(s.nextId, 'state.nextId', { min: 0, where });
  const observed = checkInteger(s.observed, 'state.observed', { min: 0, where });
  const rng = new Rng(0);
  try {
    rng.load(state.rng);
  } catch (e) {
    throw new ValidationError(`${where}: state.rng: ${(e as Error).message}`);
  }
  return { rng, nextId, observed };
}

/**
 * Check a list of `{ id, decisions, ... }` records of a state.
 * @param where - e.g. `'ppo.load'`.
 * @param field - e.g. `'pending'`.
 * @param list - the candidate list.
 * @param blocks - blocks per cell.
 * @param numbers - other fields each record must hold as finite numbers.
 */
export function checkRecords(where: string, field: string, list: unknown, blocks: number, numbers: string[]): void {
  checkArray(list, `state.${field}`, { where }).forEach((r, i) => {
    const rec = r as Record<string, unknown> | null;
    if (rec === null || typeof rec !== 'object' || !Number.isInteger(rec.id) || !Array.isArray(rec.decisions)) {
      throw new ValidationError(`${where}: state.${field}[${i}]: expected { id: integer, decisions: number[] }`);
    }
    try {
      checkDecisions(rec.decisions as number[], blocks);
    } catch (e) {
      throw new ValidationError(`${where}: state.${field}[${i}]: ${(e as Error).message}`);
    }
    for (const k of numbers) checkNumber(rec[k], `state.${field}[${i}].${k}`, { where });
  });
}
