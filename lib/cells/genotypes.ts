/**
 * Named genotypes. Frozen data, validated by the tests.
 *
 * Only NASNet-A ships: it is transcribed from the released TF-slim code, which the published
 * checkpoints load into. NASNet-B and NASNet-C (the paper's appendix figures, with other block
 * counts and concat combines) are not included because no machine-readable release exists to check
 * a transcription against.
 */
import type { Genotype } from './genotype-types.js';

/**
 * NASNet-A, as released in TF-slim (`NasNetANormalCell` / `NasNetAReductionCell`): slim's
 * `hiddenstate_indices` pair up into `inputs`, `operations` into `ops` (`none` = identity,
 * `separable_kxk_2` = sep_conv_kxk, which is applied twice), every block adds, and `concat` lists the
 * states slim's `used_hiddenstates` leaves unmarked: 6 in the normal cell (h_{i-1} and the 5 blocks),
 * 4 in the reduction cell (blocks 1 to 4).
 */
export const NASNET_A: Genotype = Object.freeze({
  normal: Object.freeze({
    blocks: Object.freeze([
      { inputs: [0, 1], ops: ['sep_conv_5x5', 'sep_conv_3x3'], combine: 'add' },
      { inputs: [1, 1], ops: ['sep_conv_5x5', 'sep_conv_3x3'], combine: 'add' },
      { inputs: [0, 1], ops: ['avg_pool_3x3', 'identity'], combine: 'add' },
      { inputs: [1, 1], ops: ['avg_pool_3x3', 'avg_pool_3x3'], combine: 'add' },
      { inputs: [0, 0], ops: ['sep_conv_3x3', 'identity'], combine: 'add' },
    ] as const),
    concat: Object.freeze([1, 2, 3, 4, 5, 6]),
  }),
  reduction: Object.freeze({
    blocks: Object.freeze([
      { inputs: [0, 1], ops: ['sep_conv_5x5', 'sep_conv_7x7'], combine: 'add' },
      { inputs: [0, 1], ops: ['max_pool_3x3', 'sep_conv_7x7'], combine: 'add' },
      { inputs: [0, 1], ops: ['avg_pool_3x3', 'sep_conv_5x5'], combine: 'add' },
      { inputs: [3, 2], ops: ['identity', 'avg_pool_3x3'], combine: 'add' },
      { inputs: [2, 0], ops: ['sep_conv_3x3', 'max_pool_3x3'], combine: 'add' },
    ] as const),
    concat: Object.freeze([3, 4, 5, 6]),
  }),
});

/** Every named genotype, by name (lower case, as the CLI accepts them). */
export const GENOTYPES: Readonly<Record<string, Genotype>> = Object.freeze({ 'nasnet-a': NASNET_A });
