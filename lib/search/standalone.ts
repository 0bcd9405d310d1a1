/**
 * The standalone search loop: the strategy proposes children, each is trained by itself on the
 * proxy task by an executor (with one budget, or rung by rung under successive halving), its
 * validation accuracy is its reward. Children run `executor.concurrency` at a time.
 */

import { existsSync } from 'node:fs';
import { genotypeHash, validateGenotype } from '../cells/genotype.js';
import type { Genotype } from '../cells/genotype-types.js';
import { ValidationError } from '../errors.js';
import { childJob, overConstraints, type SearchContext } from './context.js';
import { promotes, proxySteps, type RungRecord, rungProxies } from './halving.js';
import { checkRunConsistency, readProposals } from './run-check.js';
import type { ChildResult, HistoryEntry } from './types.js';

/**
 * Runs the standalone loop until the history holds `config.children` children (or the time budget
 * is spent). Resumes from the run folder: children recorded after the last saved strategy state are
 * observed, children in flight are trained again (from the rung they had reached).
 *
 * @param ctx - configuration, run folder, strategy, recorder, data set, executor, time budget
 */
export async function runStandalone(ctx: SearchContext): Promise<void> {
  const { config, run, strategy, recorder, dataset, executor } = ctx;
  const { history } = recorder;
  const saveStrategy = () => run.writeJson('strategy.json', strategy.state());
  const proposals = readProposals(run);
  checkRunConsistency(run, { saved: existsSync(run.file('strategy.json')), nextId: strategy.state().nextId, proposals: [...proposals.keys()], history });

  // Reconcile: children recorded in history whose reward the saved strategy has not seen yet.
  const pendingIds = (): number[] => strategy.state().pending.map((p) => p.id);
  const recorded = new Map(history.map((h) => [h.id, h]));
  const unseen = pendingIds().filter((id) => recorded.has(id));
  if (unseen.length > 0) {
    strategy.observe(unseen.map((id) => ({ id, genotype: recorded.get(id)!.genotype, reward: recorded.get(id)!.reward })));
    saveStrategy();
  }
  const resubmit = pendingIds().filter((id) => !recorded.has(id));
  for (const id of resubmit) {
    if (!proposals.has(id)) throw new ValidationError(`${run.file('proposals.jsonl')}: pending child ${id} has no proposal line`);
  }

  // Successive halving: the budgets of the rungs and every decision taken so far.
  const halving = config.schedule?.kind === 'halving' ? config.schedule : null;
  const rungs = halving ? rungProxies(config.proxy, halving, dataset.train.size) : [config.proxy];
  const rungLog = halving ? run.readLines<RungRecord>('rungs.jsonl') : [];
  const rungScores: number[][] = rungs.map(() => []);
  for (const r of rungLog) rungScores[r.rung]!.push(r.result.accuracy);
  // The time budget: a rung starts only when it is expected to end within it (its mean time so far,
  // else a lower rung's scaled by the steps; nothing is known before the first child ends).
  const steps = rungs.map((p) => proxySteps(p, dataset.train.size));
  const expected = (rung: number): number => {
    for (let k = rung; k >= 0; k--) {
      const m = ctx.budget.mean(`rung ${k}`);
      if (m !== undefined) return (m * steps[rung]!) / steps[k]!;
    }
    return 0;
  };

  /** Trains a child rung by rung (one rung without halving) and records it when it stops. */
  const ladder = async (id: number, genotype: Genotype, hash: string): Promise<HistoryEntry> => {
    const accuracies: number[] = [];
    let seconds = 0;
    let rung = 0;
    for (const r of rungLog.filter((x) => x.id === id)) {
      accuracies.push(r.result.accuracy);
      seconds += r.result.seconds;
      if (!r.promoted) return recorder.record(id, genotype, hash, { ...r.result, seconds }, { rung: r.rung, rungAccuracies: accuracies });
      rung = r.rung + 1;
    }
    for (;;) {
      const result: ChildResult = await ctx.budget.time(`rung ${rung}`, () => executor.submit(childJob(config, id, genotype, hash, rungs[rung])));
      if (!halving) return recorder.record(id, genotype, hash, result, {});
      const failed = Boolean(result.error || result.diverged);
      const accuracy = failed ? 0 : result.accuracy;
      const byRule = rung < rungs.length - 1 && !failed && promotes(rungScores[rung]!, accuracy, halving.eta);
      const promoted = byRule && ctx.budget.fits(expected(rung + 1));
      rungScores[rung]!.push(accuracy);
      const line: RungRecord = { id, rung, hash, result: { ...result, accuracy }, promoted, steps: steps[rung]! };
      if (byRule && !promoted) line.stoppedBy = 'time';
      run.appendLine('rungs.jsonl', line); // the decision is on disk before it is acted on
      accuracies.push(accuracy);
      seconds += result.seconds;
      if (!promoted) return recorder.record(id, genotype, hash, { ...result, seconds }, { rung, rungAccuracies: accuracies });
      rung++;
    }
  };

  // Children being trained, by canonical hash: a duplicate proposed meanwhile waits for the original.
  const training = new Map<string, { id: number; done: Promise<HistoryEntry> }>();
  const duplicate = (id: number, genotype: Genotype, hash: string, of: HistoryEntry) => {
    const { accuracy, curve, params, multAdds, diverged, rung, rungAccuracies } = of;
    const extra: Partial<HistoryEntry> = rung === undefined ? { duplicateOf: of.id } : { duplicateOf: of.id, rung, rungAccuracies };
    recorder.record(id, genotype, hash, { accuracy, curve, params, multAdds, diverged, seconds: 0 }, extra);
  };
  const evaluate = async (id: number, genotype: Genotype): Promise<void> => {
    const hash = genotypeHash(genotype);
    const running = training.get(hash);
    if (running) {
      const original = await running.done;
      if (!original.error) return duplicate(id, genotype, hash, original);
    }
    const dup = recorder.byHash.get(hash);
    if (dup) return duplicate(id, genotype, hash, dup);
    const over = overConstraints(config, childJob(config, id, genotype, hash), dataset);
    if (over?.why) {
      recorder.record(id, genotype, hash, { accuracy: 0, curve: [], params: over.params, multAdds: over.multAdds, seconds: 0, diverged: false }, { rejected: over.why });
      return;
    }
    const done = ladder(id, genotype, hash);
    training.set(hash, { id, done });
    try {
      await done;
    } finally {
      training.delete(hash);
    }
  };

  const inflight = new Set<Promise<void>>();
  const launch = (id: number, genotype: Genotype) => {
    const p: Promise<void> = evaluate(id, genotype).finally(() => inflight.delete(p));
    inflight.add(p);
  };
  for (const id of resubmit) launch(id, proposals.get(id)!);
  while (history.length < config.children) {
    while (inflight.size < executor.concurrency && history.length + inflight.size < config.children && ctx.budget.fits(expected(0))) {
      const [p] = strategy.propose(1);
      const genotype = validateGenotype(p.genotype);
      run.appendLine('proposals.jsonl', { id: p.id, genotype });
      saveStrategy();
      launch(p.id, genotype);
    }
    if (inflight.size === 0) break;
    await Promise.race(inflight);
  }
  await Promise.all(inflight);
}
