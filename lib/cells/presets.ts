/**
 * The paper's three NASNet-A networks as option sets (TF-slim `cifar_config`,
 * `mobile_imagenet_config`, `large_imagenet_config` and their arg scopes), each overridable option
 * by option.
 */
import { ValidationError } from '../errors.js';
import type { Genotype } from './genotype-types.js';
import { NASNET_A } from './genotypes.js';
import { type BuiltNetwork, buildNetwork, CIFAR_DEFAULTS, IMAGENET_DEFAULTS, type NetworkOptions } from './network.js';

/** Names of the presets. */
export const PRESET_NAMES = ['nasnet-a-cifar', 'nasnet-a-mobile', 'nasnet-a-large'] as const;

/** A preset name. */
export type PresetName = (typeof PRESET_NAMES)[number];

/**
 * Options of each preset. The CIFAR and mobile ones are the network defaults of their stem
 * ({@link CIFAR_DEFAULTS}, {@link IMAGENET_DEFAULTS}, where slim's constants are written once); the
 * large one is the mobile one with slim's `large_imagenet_config` changes.
 */
export const PRESETS: Readonly<Record<PresetName, Readonly<NetworkOptions>>> = Object.freeze({
  /** NASNet-A 6@768 on CIFAR-10: 32×32, stem multiplier 3, auxiliary head, no dense dropout. */
  'nasnet-a-cifar': CIFAR_DEFAULTS,
  /** NASNet-A 4@1056 (mobile) on ImageNet: 224×224, stem multiplier 1, label smoothing 0.1. */
  'nasnet-a-mobile': IMAGENET_DEFAULTS,
  /** NASNet-A 6@4032 (large) on ImageNet: 331×331, stem multiplier 3, skip_reduction_layer_input. */
  'nasnet-a-large': Object.freeze<NetworkOptions>({
    ...IMAGENET_DEFAULTS,
    cellsPerStack: 6,
    filters: 168,
    stemMultiplier: 3,
    inputSize: 331,
    skipReductionLayerInput: true,
  }),
});

/**
 * A preset's options with overrides applied (an override of `penultimate` replaces `filters`).
 * @param name preset name
 * @param overrides options to change, e.g. `{ numClasses: 100 }`
 * @throws ValidationError for an unknown preset
 * @example presetOptions('nasnet-a-mobile', { numClasses: 10 })
 */
export function presetOptions(name: string, overrides: NetworkOptions = {}): NetworkOptions {
  if (!(PRESET_NAMES as readonly string[]).includes(name)) {
    throw new ValidationError(`Unknown preset '${name}' (known: ${PRESET_NAMES.join(', ')})`);
  }
  const base: NetworkOptions = { ...PRESETS[name as PresetName] };
  if (overrides.penultimate !== undefined && overrides.filters === undefined) delete base.filters;
  return { ...base, ...overrides };
}

/**
 * Builds a preset network (NASNet-A unless another genotype is given).
 * @param name preset name
 * @param overrides options to change
 * @param genotype the cells (default {@link NASNET_A})
 * @example buildPreset('nasnet-a-cifar', { cellsPerStack: 2 }).meta.name // '2@768'
 */
export function buildPreset(name: string, overrides: NetworkOptions = {}, genotype: Genotype = NASNET_A): BuiltNetwork {
  return buildNetwork(genotype, presetOptions(name, overrides));
}
