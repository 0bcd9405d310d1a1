/**
 * Checks of saved strategy states, so a corrupt or foreign file fails at load with a clear message.
 */
import { ValidationError } from '../errors.js';
import { checkDecisions } from './decisions.js';

/**
 * Check the fields every strategy state has: name, version, nextId, rng.
 * @param where - e.g. `'ppo.load'`.
 * @param state - the candidate state.
 * @param name - the expected name.
 * @param version - the expected version.
 * @example checkStateHeader('random.load', s, 'random', 1);
 */
export function checkStateHeader(where: string, state: unknown, name: string, version: number): void {
  if (state === null || typeof state !== 'object') {
    throw new ValidationError(`${where}: expected a state object but received ${String(state)}`);
  }
  const s = state as Record<string, unknown>;
  if (s.name !== name) {
    throw new ValidationError(`${where}: expected state.name '${name}' but received ${JSON.stringify(s.name)}`);
  }
  if (s.version !== version) {
    throw new ValidationError(`${where}: expected state.version ${version} but received ${JSON.stringify(s.version)}`);
  }
  if (!Number.isInteger(s.nextId) || (s.nextId as number) < 0) {
    throw new ValidationError(`${where}: expected state.nextId to be an integer >= 0 but received ${String(s.nextId)}`);
  }
  if (s.config === null || typeof s.config !== 'object') {
    throw new ValidationError(`${where}: expected state.config to be an object but received ${String(s.config)}`);
  }
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
  if (!Array.isArray(list)) {
    throw new ValidationError(`${where}: expected state.${field} to be an array but received ${typeof list}`);
  }
  list.forEach((r, i) => {
    const rec = r as Record<string, unknown> | null;
    if (rec === null || typeof rec !== 'object' || !Number.isInteger(rec.id) || !Array.isArray(rec.decisions)) {
      throw new ValidationError(`${where}: state.${field}[${i}]: expected { id: integer, decisions: number[] }`);
    }
    try {
      checkDecisions(rec.decisions as number[], blocks);
    } catch (e) {
      throw new ValidationError(`${where}: state.${field}[${i}]: ${(e as Error).message}`);
    }
    for (const k of numbers) {
      if (typeof rec[k] !== 'number' || !Number.isFinite(rec[k])) {
        throw new ValidationError(
          `${where}: state.${field}[${i}].${k}: expected a finite number but received ${String(rec[k])}`,
        );
      }
    }
  });
}
