/**
 * The constants of TF-slim's Inception preprocessing (`research/slim/preprocessing/
 * inception_preprocessing.py`), used by image folders resolved with `preprocessing: 'inception'`
 * (the ImageNet recipes). The algorithms run in the decode workers (`lib/data/inception.mjs`);
 * the constants travel with each task, so they are written only here.
 */
import type { Normalization } from './catalog.js';

/**
 * `distorted_bounding_box_crop` defaults: `min_object_covered=0.1, aspect_ratio_range=(0.75, 1.33),
 * area_range=(0.05, 1.0), max_attempts=100`, the whole image being the object's box.
 */
export const INCEPTION_CROP = Object.freeze({
  area: [0.05, 1.0] as [number, number],
  aspect: [0.75, 1.33] as [number, number],
  minObjectCovered: 0.1,
  attempts: 100,
});

/**
 * `distort_color`: `random_brightness(max_delta=32. / 255.)`, `random_saturation(lower=0.5,
 * upper=1.5)`, and in full mode also `random_hue(max_delta=0.2)` and `random_contrast(lower=0.5,
 * upper=1.5)`.
 */
export const INCEPTION_COLOR = Object.freeze({
  brightness: 32 / 255,
  saturation: [0.5, 1.5] as [number, number],
  hue: 0.2,
  contrast: [0.5, 1.5] as [number, number],
});

/** `preprocess_for_eval(central_fraction=0.875)`: the central 87.5% of each side. */
export const INCEPTION_CENTRAL_FRACTION = 0.875;

/** Inception's scaling to [-1, 1]: `(x - 0.5) * 2`, i.e. mean 0.5 and std 0.5 on every channel. */
export const INCEPTION_NORMALIZATION: Normalization = Object.freeze({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });

/** Uniforms a colour distortion draws per image: ordering, brightness, saturation, hue, contrast. */
export const COLOR_UNIFORMS = 5;

/**
 * Colour distortion of `preprocess_for_train`: `'fast'` is `fast_mode=True` (what
 * `train_image_classifier.py` uses: brightness then saturation), `'full'` is `fast_mode=False` (one
 * of four orderings of brightness, saturation, hue and contrast, drawn per image).
 */
export type ColorDistortion = 'fast' | 'full';
