import type { Genotype } from '../../lib/cells/genotype-types.js';
import { decisionSteps, decisionsToGenotype } from '../../lib/controller/decisions.js';

/**
 * `n` valid genotypes of `blocks` blocks from a fixed linear congruential generator (not the
 * strategies' RNG), so tests that pin what these genotypes build do not move when an RNG does.
 */
export function fixedGenotypes(n: number, seed: number, blocks = 5): Genotype[] {
  let x = seed >>> 0;
  const next = (m: number) => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return Math.floor((x / 2 ** 32) * m);
  };
  const steps = decisionSteps(blocks);
  return Array.from({ length: n }, () => decisionsToGenotype(steps.map((s) => next(s.choices)), blocks));
}
