import { describe, expect, it } from 'vitest';
import { kendallTau } from '../lib/search/rank.js';

describe('kendallTau (τ-b)', () => {
  it('matches scipy.stats.kendalltau on small cases, ties included', () => {
    expect(kendallTau([1, 2, 3, 4], [10, 20, 40, 30])).toBeCloseTo(2 / 3, 12);
    expect(kendallTau([1, 2, 3, 4], [4, 3, 2, 1])).toBe(-1);
    expect(kendallTau([1, 2, 2, 3], [1, 3, 2, 4])).toBeCloseTo(0.9128709291752769, 12); // scipy 1.x
    expect(kendallTau([1, 1, 2, 2], [1, 2, 1, 2])).toBe(0);
    expect(kendallTau([1, 1, 1], [1, 2, 3])).toBeNaN();
  });

  it('rejects lists of different lengths', () => {
    expect(() => kendallTau([1, 2], [1])).toThrow('kendallTau: the lists differ in length (2 and 1)');
  });
});
