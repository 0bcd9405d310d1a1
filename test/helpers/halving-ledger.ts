import { expect } from 'vitest';
import { promotes, type RungRecord } from '../../lib/search/halving.js';
import { RunDir } from '../../lib/search/run-dir.js';

/**
 * Checks a halving run folder against the rules, from the files alone: every rung of every child
 * recorded exactly once, rungs climbed in order, every decision the promotion rule's on the results
 * recorded before it at its rung, and every child's reward its accuracy at the highest rung it reached.
 * @returns the rung records
 */
export function expectValidLedger(runDir: string, rungs: number, eta: number): RungRecord[] {
  const run = new RunDir(runDir);
  const ledger = run.readLines<RungRecord>('rungs.jsonl');
  const history = run.history();
  const seen = new Set<string>();
  const atRung: number[][] = Array.from({ length: rungs }, () => []);
  const lastRung = new Map<number, RungRecord>();
  for (const r of ledger) {
    const key = `${r.id}/${r.rung}`;
    expect(seen.has(key), `rung ${r.rung} of child ${r.id} recorded twice`).toBe(false);
    seen.add(key);
    const prev = lastRung.get(r.id);
    expect(r.rung).toBe(prev ? prev.rung + 1 : 0);
    if (prev) expect(prev.promoted).toBe(true);
    const failed = Boolean(r.result.error || r.result.diverged);
    const rule = r.rung < rungs - 1 && !failed && promotes(atRung[r.rung]!, r.result.accuracy, eta);
    // A decision is the rule's, except that a spent time budget stops promotions (and says so).
    if (r.promoted) expect(rule, `child ${r.id} promoted at rung ${r.rung} against the rule`).toBe(true);
    else if (rule) expect(r.stoppedBy, `child ${r.id} stopped at rung ${r.rung} against the rule`).toBe('time');
    else expect(r.stoppedBy).toBeUndefined();
    atRung[r.rung]!.push(r.result.accuracy);
    lastRung.set(r.id, r);
  }
  for (const h of history.filter((x) => x.duplicateOf === undefined && !x.rejected)) {
    const last = lastRung.get(h.id)!;
    expect(last, `child ${h.id} has no rung record`).toBeDefined();
    expect(last.promoted).toBe(false);
    expect(h.rung).toBe(last.rung);
    expect(h.reward).toBe(last.result.accuracy);
    expect(h.rungAccuracies).toEqual(ledger.filter((r) => r.id === h.id).map((r) => r.result.accuracy));
  }
  return ledger;
}
