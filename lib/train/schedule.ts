/**
 * Learning-rate and ScheduledDropPath schedules. The engine takes both per step; they live here.
 */

/**
 * Cosine decay (SGDR without restarts, as the paper's CIFAR training): `lr(t) = min + (base - min) *
 * (1 + cos(pi * t / total)) / 2`.
 *
 * @param step - steps done so far (0-based)
 * @param totalSteps - steps of the whole run
 * @param base - initial learning rate
 * @param min - final learning rate; default 0
 * @example cosineLr(0, 100, 0.025) // 0.025
 */
export function cosineLr(step: number, totalSteps: number, base: number, min = 0): number {
  const t = Math.min(Math.max(step / Math.max(totalSteps, 1), 0), 1);
  return min + ((base - min) * (1 + Math.cos(Math.PI * t))) / 2;
}

/**
 * Staircase exponential decay (the paper's ImageNet RMSProp schedule: 0.97 every 2.4 epochs):
 * `base * rate ^ floor(epochs / every)`.
 *
 * @param epoch - epochs done (fractional)
 * @param base - initial learning rate
 * @param rate - decay factor; default 0.97
 * @param every - epochs between decays; default 2.4
 */
export function exponentialLr(epoch: number, base: number, rate = 0.97, every = 2.4): number {
  return base * rate ** Math.floor(epoch / every);
}

/**
 * How ScheduledDropPath scales the drop rate (TF-slim `drop_connect_version` in `nasnet_utils.py`
 * `_apply_drop_path`: v2 and v3 scale by the layer ratio, v1 and v3 by training progress):
 * - `'layer-and-time'` (v3, the default and the paper's): `progress × layer_ratio × (1 − keep)`;
 * - `'time'` (v1): `progress × (1 − keep)` in every cell, whatever its depth;
 * - `'layer'` (v2): `layer_ratio × (1 − keep)`, constant in time.
 */
export type DropPathMode = 'layer-and-time' | 'time' | 'layer';

/** The modes, for validation and `--help`. */
export const DROP_PATH_MODES: readonly DropPathMode[] = ['layer-and-time', 'time', 'layer'];

/**
 * The per-step DropPath base rate the engine takes. A DropPath node drops with `rate × layer_ratio`,
 * where the network builder sets `layer_ratio` = (cell index + 1) / cells, or 1 in every cell when
 * depth scaling is off (`NetworkOptions.dropPathDepthScaling: false`, which `train()` sets for
 * `'time'`). This function supplies the time part: `(1 − keep) × progress` for `'layer-and-time'`
 * and `'time'`, `1 − keep` for `'layer'`.
 *
 * @param keepProb - the final keep probability of the last cell (e.g. 0.6 for CIFAR); 1 = off
 * @param progress - fraction of training done, in [0, 1]
 * @param mode - default 'layer-and-time'
 * @example dropPathRate(0.6, 0.5) // 0.2: at mid-training the last cell drops 20% of paths
 */
export function dropPathRate(keepProb: number, progress: number, mode: DropPathMode = 'layer-and-time'): number {
  const p = Math.min(Math.max(progress, 0), 1);
  const base = 1 - keepProb;
  return mode === 'layer' ? base : base * p;
}

/**
 * Whether a mode scales the drop rate by depth (the network's `dropPathDepthScaling`).
 * @param mode - a ScheduledDropPath mode
 * @example dropPathScalesWithDepth('time') // false
 */
export function dropPathScalesWithDepth(mode: DropPathMode): boolean {
  return mode !== 'time';
}
