import { ValidationError } from '../errors.js';
import type { RunDir } from './run-dir.js';
import type { HistoryEntry } from './types.js';

/** What a resumed search found in its run folder. */
export interface RunFolderState {
  /** Whether strategy.json was there. */
  saved: boolean;
  /** The strategy's next proposal id (restored, or 0 for a new strategy). */
  nextId: number;
  /** Ids of the lines of proposals.jsonl. */
  proposals: number[];
  /** The lines of history.jsonl. */
  history: HistoryEntry[];
}

/**
 * Refuses a run folder whose files contradict each other, before anything is proposed or trained,
 * naming the file and what is wrong. The order a search writes in (proposal line, then strategy.json
 * with the child pending, then the child's history line, then strategy.json again) makes these
 * invariants of every folder a kill can leave behind:
 * - history ids are unique, and each has a proposal line;
 * - the saved strategy has issued every id in history (`nextId` above them);
 * - a folder with history has a strategy.json (a new strategy would issue the same ids again).
 * Proposal lines without a history line are not checked against `nextId`: a kill between the
 * proposal line and strategy.json leaves one, and the restored strategy proposes that id again.
 *
 * @param run - the run folder
 * @param state - what was read from it
 * @throws ValidationError naming the file and the contradiction
 */
export function checkRunConsistency(run: RunDir, state: RunFolderState): void {
  const history = run.file('history.jsonl');
  if (!state.saved && state.history.length > 0) {
    throw new ValidationError(
      `${run.file('strategy.json')} is missing but ${history} records ${state.history.length} children: ` +
        'the strategy state (weights, RNG, ids issued) cannot be rebuilt, and a new strategy would issue the same child ids again',
    );
  }
  const proposed = new Set(state.proposals);
  const seen = new Set<number>();
  state.history.forEach((h, i) => {
    if (typeof h?.id !== 'number' || !Number.isInteger(h.id) || h.id < 0) {
      throw new ValidationError(`${history}:${i + 1}: id is ${JSON.stringify(h?.id)}, expected a non-negative integer`);
    }
    if (seen.has(h.id)) throw new ValidationError(`${history}:${i + 1}: child ${h.id} is recorded twice`);
    seen.add(h.id);
    if (!proposed.has(h.id)) throw new ValidationError(`${history}:${i + 1}: child ${h.id} has no line in ${run.file('proposals.jsonl')}`);
    if (h.id >= state.nextId) {
      throw new ValidationError(
        `${history}:${i + 1}: child ${h.id} was never issued by ${run.file('strategy.json')} (its next id is ${state.nextId}): ` +
          'the strategy state belongs to another or an older run',
      );
    }
  });
}
