import { genotypeHash, validateGenotype } from '../cells/genotype.js';
import type { Genotype } from '../cells/genotype-types.js';
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

/**
 * The lines of proposals.jsonl, each checked (an object with a non-negative integer id and a valid
 * genotype), by id.
 *
 * @param run - the run folder
 * @throws ValidationError naming the file, the line and the field
 */
export function readProposals(run: RunDir): Map<number, Genotype> {
  const file = run.file('proposals.jsonl');
  const out = new Map<number, Genotype>();
  run.readLines<unknown>('proposals.jsonl').forEach((line, i) => {
    const p = line as { id?: unknown; genotype?: unknown } | null;
    if (p === null || typeof p !== 'object' || Array.isArray(p)) throw new ValidationError(`${file}:${i + 1}: expected an object { id, genotype } but received ${JSON.stringify(p)}`);
    if (typeof p.id !== 'number' || !Number.isInteger(p.id) || p.id < 0) {
      throw new ValidationError(`${file}:${i + 1}: id is ${JSON.stringify(p.id)}, expected a non-negative integer`);
    }
    try {
      out.set(p.id, validateGenotype(p.genotype));
    } catch (err) {
      throw new ValidationError(`${file}:${i + 1}: ${(err as Error).message}`);
    }
  });
  return out;
}

/**
 * The lines of history.jsonl, each checked for what a resumed search reads from it: an object with a
 * non-negative integer id, a valid genotype and its canonical hash, a finite reward and accuracy,
 * and, when present, a string error, an integer duplicateOf and rung.
 *
 * @param run - the run folder
 * @throws ValidationError naming the file, the line and the field
 */
export function readHistory(run: RunDir): HistoryEntry[] {
  const file = run.file('history.jsonl');
  const lines = run.readLines<unknown>('history.jsonl');
  lines.forEach((line, i) => {
    const at = `${file}:${i + 1}`;
    const h = line as Record<string, unknown> | null;
    if (h === null || typeof h !== 'object' || Array.isArray(h)) throw new ValidationError(`${at}: expected a child's record (an object) but received ${JSON.stringify(h)}`);
    const bad = (field: string, expected: string) => new ValidationError(`${at}: ${field} is ${JSON.stringify(h[field])}, expected ${expected}`);
    if (typeof h.id !== 'number' || !Number.isInteger(h.id) || h.id < 0) throw bad('id', 'a non-negative integer');
    let hash: string;
    try {
      hash = genotypeHash(validateGenotype(h.genotype));
    } catch (err) {
      throw new ValidationError(`${at}: ${(err as Error).message}`);
    }
    if (h.hash !== hash) throw bad('hash', `its genotype's canonical hash ${hash.slice(0, 12)}…`);
    for (const k of ['reward', 'accuracy']) if (typeof h[k] !== 'number' || !Number.isFinite(h[k])) throw bad(k, 'a finite number');
    if (h.error !== undefined && typeof h.error !== 'string') throw bad('error', 'a string');
    for (const k of ['duplicateOf', 'rung', 'round']) if (h[k] !== undefined && (typeof h[k] !== 'number' || !Number.isInteger(h[k]) || (h[k] as number) < 0)) throw bad(k, 'a non-negative integer');
  });
  return lines as HistoryEntry[];
}
