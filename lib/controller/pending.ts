/**
 * Bookkeeping of proposals that were handed out and not yet observed. Children finish in any order
 * and any grouping; each proposal id is observed exactly once.
 */
import { ValidationError } from '../errors.js';
import { genotypeToDecisions } from './decisions.js';
import type { Observation } from './strategy.js';

/** A pending proposal: its id, its decisions, and whatever else the strategy keeps. */
export interface PendingEntry {
  id: number;
  decisions: number[];
}

/**
 * Check a batch of observations against the pending table and take their entries out of it.
 * Nothing is removed unless the whole batch is valid.
 * @param strategy - name for messages, e.g. `'ppo'`.
 * @param pending - id → entry, in proposal order; modified.
 * @param results - the observations.
 * @param blocks - blocks per cell, to decode the observed genotype.
 * @returns the entries with their rewards, in the order of `results`.
 * @throws ValidationError for an unknown or repeated id, a non-finite reward, or a genotype that is not the proposal's.
 */
export function takePending<T extends PendingEntry>(
  strategy: string,
  pending: Map<number, T>,
  results: readonly Observation[],
  blocks: number,
): { entry: T; reward: number }[] {
  if (!Array.isArray(results)) {
    throw new ValidationError(`${strategy}.observe: expected an array of observations but received ${typeof results}`);
  }
  const seen = new Set<number>();
  const out: { entry: T; reward: number }[] = [];
  results.forEach((r, i) => {
    const entry = pending.get(r?.id);
    if (entry === undefined || seen.has(r.id)) {
      throw new ValidationError(
        `${strategy}.observe: results[${i}].id ${String(r?.id)} is not a pending proposal (unknown or already observed)`,
      );
    }
    seen.add(r.id);
    if (typeof r.reward !== 'number' || !Number.isFinite(r.reward)) {
      throw new ValidationError(
        `${strategy}.observe: results[${i}] (id ${r.id}): expected a finite reward but received ${String(r.reward)}`,
      );
    }
    const got = genotypeToDecisions(r.genotype, blocks);
    if (got.some((d, k) => d !== entry.decisions[k])) {
      throw new ValidationError(
        `${strategy}.observe: results[${i}] (id ${r.id}): the genotype is not the one proposed under this id`,
      );
    }
    out.push({ entry, reward: r.reward });
  });
  for (const r of results) pending.delete(r.id);
  return out;
}
