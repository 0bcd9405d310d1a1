/**
 * The NASNet search space as data.
 *
 * The order of {@link PRIMITIVES} is the controller's softmax index: never reorder it, only append.
 * It is the order of the paper's list (Zoph et al. 2018, section 3).
 */
export const PRIMITIVES = [
  'identity',
  'conv_1x3_3x1',
  'conv_1x7_7x1',
  'dil_conv_3x3',
  'avg_pool_3x3',
  'max_pool_3x3',
  'max_pool_5x5',
  'max_pool_7x7',
  'conv_1x1',
  'conv_3x3',
  'sep_conv_3x3',
  'sep_conv_5x5',
  'sep_conv_7x7',
] as const;

/** One operation of the search space. */
export type OpName = (typeof PRIMITIVES)[number];

/** How a block joins its two branches. */
export const COMBINE_METHODS = ['add', 'concat'] as const;

/** A block's combine method. */
export type CombineMethod = (typeof COMBINE_METHODS)[number];

/** Number of blocks per cell in the paper's search. */
export const DEFAULT_BLOCKS = 5;

/**
 * Input indices of a block: `0` is h_i (the previous cell's output), `1` is h_{i-1} (the one before),
 * and `2 + k` is the output of block `k` of the same cell. This is the TF-slim `hiddenstate_indices`
 * convention.
 */
export const CELL_INPUTS = 2;
