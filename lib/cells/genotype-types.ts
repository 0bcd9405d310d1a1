import type { CombineMethod, OpName } from './space.js';

/** One block: two inputs, one op on each, and how they are combined. */
export interface BlockGenotype {
  /** Indices of the hidden states read: 0 = h_i, 1 = h_{i-1}, 2 + k = block k. */
  readonly inputs: readonly [number, number];
  /** The op applied to each input. */
  readonly ops: readonly [OpName, OpName];
  /** Add the two branches, or concatenate them along channels. */
  readonly combine: CombineMethod;
}

/** A cell: B blocks in order. */
export interface CellGenotype {
  readonly blocks: readonly BlockGenotype[];
  /**
   * Optional: the hidden states (same indices as `inputs`) concatenated, in this order, into the
   * cell's output. When absent, every state that no block reads is concatenated in index order (the
   * paper's rule for searched cells). The released NASNet-A needs it: TF-slim's `used_hiddenstates`
   * concatenates h_{i-1} in the normal cell and block 1 in the reduction cell although both are read.
   */
  readonly concat?: readonly number[];
}

/** A normal and a reduction cell: what the search finds. JSON-serializable. */
export interface Genotype {
  readonly normal: CellGenotype;
  readonly reduction: CellGenotype;
}
