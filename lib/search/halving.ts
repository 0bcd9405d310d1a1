/**
 * Successive halving for standalone children, asynchronous (ASHA, Li et al. 2020) in its stopping
 * form (as Ray Tune's `AsyncHyperBandScheduler`): every child starts at rung 0, the smallest budget;
 * when it finishes rung k it is compared at once with every result recorded at rung k so far and
 * continues to rung k + 1 only when it is among the best 1/eta of them, otherwise it stops there.
 * Decisions are made once, when the result arrives, and written to `rungs.jsonl` before they are
 * acted on, so a resumed search carries out exactly the decisions it recorded. Workers never wait for
 * a rung to fill: a freed slot goes to the next rung of a promoted child or to a new child.
 *
 * Budgets: the top rung (rungs − 1) is the proxy training itself (E epochs of b batches: T = E·b
 * steps); rung k trains T / eta^(rungs − 1 − k) steps, rounded to whole batches. Each rung trains the
 * child from scratch with its own (cosine) schedule over its own budget: no weights travel between
 * rungs, so a rung runs on any worker of any machine, and a rung's result is what a standalone child
 * with that budget scores. A child's reward is its accuracy at the highest rung it reached.
 */
import { ValidationError } from '../errors.js';
import { checkInteger } from '../util/check.js';
import type { ChildResult, ProxyConfig } from './types.js';

/** The successive-halving schedule of {@link SearchOptions.schedule}. */
export interface HalvingSchedule {
  kind: 'halving';
  /** Rungs (budgets), ≥ 2; default 3. */
  rungs?: number;
  /** Reduction factor: 1/eta of a rung continue, each rung trains eta times longer; default 3. */
  eta?: number;
}

/** The one-budget schedule: every child trained once with the proxy's budget. */
export interface PlainSchedule {
  kind: 'plain';
}

/** How standalone children are budgeted. */
export type Schedule = PlainSchedule | HalvingSchedule;

/** {@link HalvingSchedule} with defaults applied. */
export interface ResolvedHalving {
  kind: 'halving';
  rungs: number;
  eta: number;
}

/** One line of `rungs.jsonl`: a child's result at one rung and the decision taken on it. */
export interface RungRecord {
  id: number;
  rung: number;
  hash: string;
  result: ChildResult;
  /** Whether the child continues to the next rung (always false at the top rung). */
  promoted: boolean;
  /** Training steps of this rung's budget. */
  steps: number;
  /** Set when the rule would have promoted the child but the search's time budget was spent. */
  stoppedBy?: 'time';
}

/**
 * Applies defaults and checks a schedule.
 * @param s - a schedule, or undefined for the plain one
 * @example resolveSchedule({ kind: 'halving' }) // { kind: 'halving', rungs: 3, eta: 3 }
 */
export function resolveSchedule(s: Schedule | undefined): PlainSchedule | ResolvedHalving {
  if (s === undefined || s.kind === 'plain') return { kind: 'plain' };
  if (s.kind !== 'halving') throw new ValidationError(`Expected 'plain' or 'halving' for schedule.kind but received ${JSON.stringify((s as { kind?: unknown }).kind)}`);
  return { kind: 'halving', rungs: checkInteger(s.rungs ?? 3, 'schedule.rungs', { min: 2 }), eta: checkInteger(s.eta ?? 3, 'schedule.eta', { min: 2 }) };
}

/**
 * The proxy configuration of each rung, lowest budget first; the last is `proxy` itself.
 *
 * @param proxy - the top rung's training
 * @param s - rungs and eta
 * @param trainImages - images of the training split (batches per epoch = floor(images / batch))
 * @throws ValidationError when rung 0 would train less than one batch
 * @example rungProxies({ ...proxy, epochs: 1, batchSize: 32 }, { kind: 'halving', rungs: 3, eta: 3 }, 2500) // 9, 26, 78 batches
 */
export function rungProxies(proxy: ProxyConfig, s: ResolvedHalving, trainImages: number): ProxyConfig[] {
  const all = Math.floor(trainImages / proxy.batchSize);
  const perEpoch = proxy.maxBatchesPerEpoch > 0 ? Math.min(proxy.maxBatchesPerEpoch, all) : all;
  const total = proxy.epochs * perEpoch;
  const smallest = total / s.eta ** (s.rungs - 1);
  if (smallest < 1) {
    throw new ValidationError(
      `schedule: rung 0 of ${s.rungs} rungs with eta ${s.eta} would train ${smallest.toFixed(2)} batches (the top rung trains ${total}); use fewer rungs, a smaller eta or a larger proxy budget`,
    );
  }
  return Array.from({ length: s.rungs }, (_, k) => {
    if (k === s.rungs - 1) return proxy;
    const steps = Math.max(1, Math.round(total / s.eta ** (s.rungs - 1 - k)));
    const epochs = Math.ceil(steps / perEpoch);
    return { ...proxy, epochs, maxBatchesPerEpoch: Math.ceil(steps / epochs) };
  });
}

/** Training steps of a proxy configuration on a split of `trainImages` images. */
export function proxySteps(proxy: ProxyConfig, trainImages: number): number {
  const all = Math.floor(trainImages / proxy.batchSize);
  return proxy.epochs * (proxy.maxBatchesPerEpoch > 0 ? Math.min(proxy.maxBatchesPerEpoch, all) : all);
}

/**
 * The promotion rule: a result continues when fewer than n / eta of the n results recorded at its
 * rung (itself included) are strictly better, i.e. it ranks within the top ⌈n / eta⌉. The first result
 * of a rung always continues (as in ASHA's stopping form, early results are judged leniently).
 *
 * @param recorded - accuracies recorded at the rung before this one, in any order
 * @param accuracy - this result's accuracy
 * @param eta - the reduction factor
 * @example promotes([0.7, 0.8], 0.75, 3) // false: 1 of 3 is better and 1 is not < 3 / 3
 */
export function promotes(recorded: readonly number[], accuracy: number, eta: number): boolean {
  const n = recorded.length + 1;
  const better = recorded.filter((a) => a > accuracy).length;
  return better < n / eta;
}
