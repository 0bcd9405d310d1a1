/**
 * Recording a finished child, the same way in every mode: its line is appended to `history.jsonl`
 * and fsynced before the strategy sees its reward, `best.json` follows the best reward.
 */
import type { Genotype } from '../cells/genotype-types.js';
import type { SearchStrategy } from '../controller/strategy.js';
import { readHistory } from './run-check.js';
import type { RunDir } from './run-dir.js';
import type { ChildResult, HistoryEntry } from './types.js';

/** What a {@link SearchRecorder} needs. */
export interface RecorderOptions {
  run: RunDir;
  strategy: SearchStrategy;
  /** The strategy's name, written in every line. */
  strategyName: string;
  /** Reward of a trained child. */
  reward: (result: ChildResult, genotype: Genotype) => number;
  /** Save the strategy's state after every child (standalone mode); the shared mode saves it in its checkpoints. */
  saveStrategy: (() => void) | null;
  /** Called after each child is recorded. */
  onChild?: (entry: HistoryEntry) => void;
}

/** The history of a search and the recording of each finished child. */
export class SearchRecorder {
  /** Every child, in the order they finished. */
  readonly history: HistoryEntry[];
  /** Children trained (not duplicates, not rejected, no error), by canonical hash. */
  readonly byHash = new Map<string, HistoryEntry>();
  /** The child with the highest reward so far. */
  best: HistoryEntry | undefined;

  /** @param o - run folder, strategy, reward, callbacks */
  constructor(private readonly o: RecorderOptions) {
    this.history = readHistory(o.run);
    for (const h of this.history) {
      if (!h.error && h.duplicateOf === undefined && !h.rejected) this.byHash.set(h.hash, h);
      if (!this.best || h.reward > this.best.reward) this.best = h;
    }
  }

  /**
   * A line for a finished child (reward computed: 0 when it failed or diverged), not recorded.
   * @param id - the proposal id
   * @param genotype - the child
   * @param hash - its canonical hash
   * @param result - what training (or scoring) produced
   * @param extra - more fields (index, duplicateOf, rejected, rung, round, scoredBy, ...)
   */
  makeEntry(id: number, genotype: Genotype, hash: string, result: ChildResult, extra: Partial<HistoryEntry>): HistoryEntry {
    const r = result.error || result.diverged ? 0 : this.o.reward(result, genotype);
    return {
      ...result,
      id,
      index: 0,
      genotype,
      hash,
      reward: Number.isFinite(r) ? r : 0,
      strategy: this.o.strategyName,
      finishedAt: new Date().toISOString(),
      ...extra,
    };
  }

  /**
   * Records a finished child: appends its line (flushed), lets the strategy observe its reward,
   * updates `best.json`.
   *
   * @param id - the proposal id
   * @param genotype - the child
   * @param hash - its canonical hash
   * @param result - what training (or scoring) produced
   * @param extra - more fields of the line (duplicateOf, rejected, rung, round, scoredBy, ...)
   * @returns the recorded line
   */
  record(id: number, genotype: Genotype, hash: string, result: ChildResult, extra: Partial<HistoryEntry>): HistoryEntry {
    const entry = this.makeEntry(id, genotype, hash, result, { index: this.history.length, ...extra });
    this.o.run.appendLine('history.jsonl', entry); // flushed before the strategy uses the reward
    this.history.push(entry);
    if (!entry.error && entry.duplicateOf === undefined && !entry.rejected) this.byHash.set(hash, entry);
    this.o.strategy.observe([{ id, genotype, reward: entry.reward }]);
    this.o.saveStrategy?.();
    if (!this.best || entry.reward > this.best.reward) {
      this.best = entry;
      this.o.run.writeJson('best.json', { id: entry.id, reward: entry.reward, hash: entry.hash, genotype: entry.genotype, scoredBy: entry.scoredBy ?? 'standalone' });
    }
    this.o.onChild?.(entry);
    return entry;
  }
}
