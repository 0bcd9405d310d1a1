/**
 * Rank statistics for comparing two scorings of the same children (e.g. shared-weight scores
 * against standalone accuracies).
 */
import { ValidationError } from '../errors.js';

/**
 * Kendall's τ-b between two paired lists: (concordant − discordant) / √((n0 − n1)(n0 − n2)), with
 * n0 = n(n − 1)/2 and n1, n2 the pairs tied in x and in y. 1 = the same order, −1 = reversed, about
 * 0 = unrelated; ties count for neither side. NaN when either list is constant.
 *
 * @param x - scores of n items
 * @param y - other scores of the same n items (same order)
 * @example kendallTau([1, 2, 3, 4], [10, 20, 40, 30]) // 0.667: 5 of 6 pairs agree
 */
export function kendallTau(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) throw new ValidationError(`kendallTau: the lists differ in length (${x.length} and ${y.length})`);
  let concordant = 0;
  let discordant = 0;
  let tiesX = 0;
  let tiesY = 0;
  for (let i = 0; i < x.length; i++) {
    for (let j = i + 1; j < x.length; j++) {
      const dx = Math.sign(x[i]! - x[j]!);
      const dy = Math.sign(y[i]! - y[j]!);
      if (dx === 0) tiesX++;
      if (dy === 0) tiesY++;
      if (dx !== 0 && dy !== 0) {
        if (dx === dy) concordant++;
        else discordant++;
      }
    }
  }
  const n0 = (x.length * (x.length - 1)) / 2;
  return (concordant - discordant) / Math.sqrt((n0 - tiesX) * (n0 - tiesY));
}
