/**
 * Exponential moving-average reward baseline, as in the NASNet and ENAS controllers.
 */
import { checkNumber } from '../util/check.js';
import { NASNET_CONTROLLER } from './paper.js';

/**
 * Moving average b ← decay · b + (1 − decay) · r. It starts at the first reward it sees, so the first
 * advantage is 0 rather than the whole reward.
 *
 * @example
 * const b = new EmaBaseline(0.95);
 * b.advantage(0.5); // 0 (baseline becomes 0.5)
 * b.advantage(0.7); // 0.2 (baseline becomes 0.51)
 */
export class EmaBaseline {
  readonly decay: number;
  private b: number | null = null;

  /**
   * @param decay - weight of the old value, in [0, 1); default `NASNET_CONTROLLER.baselineDecay`, 0.95.
   */
  constructor(decay: number = NASNET_CONTROLLER.baselineDecay) {
    this.decay = checkNumber(decay, 'decay', { min: 0, max: 1, maxOpen: true, where: 'EmaBaseline' });
  }

  /** The current baseline; `null` before the first reward. */
  get value(): number | null {
    return this.b;
  }

  /**
   * The advantage of `reward` over the baseline so far, then fold `reward` into the baseline.
   * @param reward - a finite reward.
   * @returns reward − baseline (before the update); 0 for the first reward.
   */
  advantage(reward: number): number {
    if (this.b === null) {
      this.b = reward;
      return 0;
    }
    const adv = reward - this.b;
    this.b = this.decay * this.b + (1 - this.decay) * reward;
    return adv;
  }

  /**
   * Restore a value saved from {@link EmaBaseline.value}.
   * @param value - a finite number, or null for "no reward seen yet".
   */
  load(value: number | null): void {
    this.b = value === null ? null : checkNumber(value, 'value', { where: 'EmaBaseline.load' });
  }
}
