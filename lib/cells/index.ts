/**
 * The cells layer: search space, genotypes, cell → IR, networks, presets, counts and drawings.
 */
export { buildCell, type CellOptions } from './cell.js';
export { type Counts, countGenotype, countGraph } from './counts.js';
export { drawCell, escapeXml } from './draw.js';
export { type BnConfig, DEFAULT_BN, IrEmitter, samePad1d, type TensorRef } from './emit.js';
export {
  CELL_KINDS,
  type CellKind,
  canonicalCell,
  canonicalGenotype,
  canonicalJson,
  cellOutputWidth,
  genotypeHash,
  parseGenotype,
  resolveConcat,
  validateGenotype,
} from './genotype.js';
export type { BlockGenotype, CellGenotype, Genotype } from './genotype-types.js';
export { GENOTYPES, NASNET_A } from './genotypes.js';
export {
  type BuiltNetwork,
  buildAuxHead,
  buildFeatures,
  buildHead,
  buildNetwork,
  type CellInfo,
  type Features,
  type NetworkMeta,
  type NetworkOptions,
  penultimatePerFilter,
  type ResolvedNetworkOptions,
  resolveNetworkOptions,
} from './network.js';
export { isOpName, OPS, type OpContext, type OpResult, type OpSpec } from './ops.js';
export { buildPreset, PRESET_NAMES, PRESETS, type PresetName, presetOptions } from './presets.js';
export { type MatchedFilters, matchParams } from './sizing.js';
export { CELL_INPUTS, COMBINE_METHODS, type CombineMethod, DEFAULT_BLOCKS, type OpName, PRIMITIVES } from './space.js';
export { type CellWiring, SHARED_WIRING, STANDALONE_WIRING, WIRINGS, type WiringContext, type WiringName } from './wiring.js';
