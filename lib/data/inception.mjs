// TF-slim's Inception preprocessing (`research/slim/preprocessing/inception_preprocessing.py`), as
// pure functions on raw pixels, so the decode worker runs them and the tests check them alone.
// Plain JavaScript for the same reason as decode-worker.mjs (worker threads load it directly).
//
// Training (`preprocess_for_train`, fast_mode=True as `train_image_classifier.py` calls it):
//   1. a random box from `tf.image.sample_distorted_bounding_box` with the whole image as the
//      object: min_object_covered 0.1, aspect_ratio_range (0.75, 1.33), area_range (0.05, 1.0),
//      max_attempts 100, else the whole image ({@link sampleDistortedBox});
//   2. the box resized to size×size, bilinear (`tf.image.resize_images`, TF1: align_corners=False,
//      no half-pixel centres: source = destination × in/out) ({@link resizeBilinear});
//   3. a random horizontal flip;
//   4. `distort_color`: fast mode, ordering 0: brightness ± 32/255, then saturation × [0.5, 1.5];
//      full mode (fast_mode=False) picks one of 4 orderings of brightness, saturation, hue ± 0.2
//      and contrast × [0.5, 1.5]; then clipped to [0, 1] ({@link distortColor});
//   5. scaled to [-1, 1]: (x − 0.5) × 2 (the data set's mean 0.5 and std 0.5).
// Evaluation (`preprocess_for_eval`): the central 87.5% (`tf.image.central_crop`), resized bilinear
// to size×size, scaled to [-1, 1].
// The constants (0.1, ranges, attempts, 32/255, ...) live in TypeScript (lib/data/inception.ts)
// and arrive with each task; this file holds only the algorithms.
//
// Images here are HWC: uint8 as decoded, float32 in [0, 1] after the resize.

/** Round half to even, like C's lrintf in the default rounding mode (TF's kernel uses it). */
export function lrint(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** An integer in [0, n) from a uniform u in [0, 1) (TF's `random.Uniform(n)`). */
function uniformInt(u, n) {
  return Math.min(n - 1, Math.floor(u * n));
}

// TF `GenerateRandomCrop` (core/kernels/image/sample_distorted_bounding_box_op.cc): the height is
// drawn between the heights that give the minimum and the maximum area at this aspect ratio.
function generateRandomCrop(W, H, minArea, maxArea, aspect, u1, u2, u3) {
  const min = minArea * W * H;
  const max = maxArea * W * H;
  let height = lrint(Math.sqrt(min / aspect));
  let maxHeight = lrint(Math.sqrt(max / aspect));
  if (lrint(maxHeight * aspect) > W) {
    maxHeight = Math.trunc((W + 0.5 - 1e-7) / aspect);
    if (lrint(maxHeight * aspect) > W) maxHeight -= 1;
  }
  if (maxHeight > H) maxHeight = H;
  if (height >= maxHeight) height = maxHeight;
  if (height < maxHeight) height += uniformInt(u1, maxHeight - height + 1);
  let width = lrint(height * aspect);
  let area = width * height;
  if (area < min) {
    height += 1;
    width = lrint(height * aspect);
    area = width * height;
  }
  if (area > max) {
    height -= 1;
    width = lrint(height * aspect);
    area = width * height;
  }
  if (area < min || area > max || width > W || height > H || width <= 0 || height <= 0) return null;
  // TF draws the offset in [0, H - height) (the last position is never drawn), and 0 when it fits exactly.
  const top = height < H ? uniformInt(u2, H - height) : 0;
  const left = width < W ? uniformInt(u3, W - width) : 0;
  return { left, top, width, height };
}

/**
 * `tf.image.sample_distorted_bounding_box` with the whole image as the one bounding box: up to
 * `u.length / 4` attempts, each drawing an aspect ratio, a height, and the box's position from four
 * uniforms; an attempt is kept when it fits and covers at least `minObjectCovered` of the image.
 * After the last failed attempt the box is the whole image.
 *
 * @param {number} W image width
 * @param {number} H image height
 * @param {{area: [number, number], aspect: [number, number], minObjectCovered: number}} o ranges
 * @param {ArrayLike<number>} u uniforms in [0, 1), four per attempt
 * @returns {{left: number, top: number, width: number, height: number}}
 */
export function sampleDistortedBox(W, H, o, u) {
  const attempts = Math.floor(u.length / 4);
  for (let k = 0; k < attempts; k++) {
    const aspect = u[4 * k] * (o.aspect[1] - o.aspect[0]) + o.aspect[0];
    const box = generateRandomCrop(W, H, o.area[0], o.area[1], aspect, u[4 * k + 1], u[4 * k + 2], u[4 * k + 3]);
    if (box !== null && (box.width * box.height) / (W * H) >= o.minObjectCovered) return box;
  }
  return { left: 0, top: 0, width: W, height: H };
}

/**
 * `tf.image.central_crop(image, fraction)`: the start is int((side − side × fraction) / 2) on each
 * axis, the size what remains between the two margins.
 *
 * @param {number} W image width
 * @param {number} H image height
 * @param {number} fraction e.g. 0.875
 */
export function centralCropBox(W, H, fraction) {
  const top = Math.trunc((H - H * fraction) / 2);
  const left = Math.trunc((W - W * fraction) / 2);
  return { left, top, width: W - 2 * left, height: H - 2 * top };
}

/**
 * TF1 `resize_bilinear` (align_corners=False, half_pixel_centers=False) of a box of a uint8 HWC
 * image, to float32 HWC in [0, 1] (`convert_image_dtype` first: value / 255). Source coordinate =
 * destination × (box side / output side); the lower neighbour is its floor, the upper one is
 * clamped to the box.
 *
 * @param {Uint8Array} src HWC bytes, `srcW × srcH × C`
 * @param {number} srcW
 * @param {number} C channels
 * @param {{left: number, top: number, width: number, height: number}} box region of src
 * @param {number} outW
 * @param {number} outH
 * @param {boolean} flip mirror the output horizontally
 * @returns {Float32Array} outH × outW × C
 */
export function resizeBilinear(src, srcW, C, box, outW, outH, flip = false) {
  const out = new Float32Array(outW * outH * C);
  const sy = box.height / outH;
  const sx = box.width / outW;
  const x0s = new Int32Array(outW);
  const x1s = new Int32Array(outW);
  const lxs = new Float32Array(outW);
  for (let x = 0; x < outW; x++) {
    const fx = x * sx;
    const x0 = Math.floor(fx);
    x0s[x] = box.left + x0;
    x1s[x] = box.left + Math.min(x0 + 1, box.width - 1);
    lxs[x] = fx - x0;
  }
  const k = 1 / 255;
  for (let y = 0; y < outH; y++) {
    const fy = y * sy;
    const y0 = Math.floor(fy);
    const ly = fy - y0;
    const r0 = (box.top + y0) * srcW;
    const r1 = (box.top + Math.min(y0 + 1, box.height - 1)) * srcW;
    for (let x = 0; x < outW; x++) {
      const lx = lxs[x];
      const o = (y * outW + (flip ? outW - 1 - x : x)) * C;
      for (let c = 0; c < C; c++) {
        const tl = src[(r0 + x0s[x]) * C + c];
        const tr = src[(r0 + x1s[x]) * C + c];
        const bl = src[(r1 + x0s[x]) * C + c];
        const br = src[(r1 + x1s[x]) * C + c];
        const top = tl + (tr - tl) * lx;
        const bottom = bl + (br - bl) * lx;
        out[o + c] = (top + (bottom - top) * ly) * k;
      }
    }
  }
  return out;
}

/** RGB in [0, 1] to HSV with h in [0, 1) (TF's `rgb_to_hsv`). */
export function rgbToHsv(r, g, b) {
  const v = Math.max(r, g, b);
  const range = v - Math.min(r, g, b);
  const s = v > 0 ? range / v : 0;
  let h = 0;
  if (range > 0) {
    const norm = 1 / (6 * range);
    if (r === v) h = norm * (g - b);
    else if (g === v) h = norm * (b - r) + 2 / 6;
    else h = norm * (r - g) + 4 / 6;
  }
  if (h < 0) h += 1;
  return [h, s, v];
}

/** HSV (h in [0, 1)) to RGB (TF's `hsv_to_rgb`). */
export function hsvToRgb(h, s, v) {
  const c = s * v;
  const m = v - c;
  const dh = h * 6;
  const sector = Math.floor(dh);
  let f = dh % 2;
  if (f < 0) f += 2;
  const x = c * (1 - Math.abs(f - 1));
  switch (((sector % 6) + 6) % 6) {
    case 0:
      return [c + m, x + m, m];
    case 1:
      return [x + m, c + m, m];
    case 2:
      return [m, c + m, x + m];
    case 3:
      return [m, x + m, c + m];
    case 4:
      return [x + m, m, c + m];
    default:
      return [c + m, m, x + m];
  }
}

/** `tf.image.adjust_brightness`: adds delta (no clipping). */
export function adjustBrightness(img, delta) {
  for (let i = 0; i < img.length; i++) img[i] += delta;
}

/** `tf.image.adjust_saturation` on RGB HWC: s × factor, clipped to [0, 1], in HSV. */
export function adjustSaturation(img, factor) {
  for (let i = 0; i < img.length; i += 3) {
    const [h, s, v] = rgbToHsv(img[i], img[i + 1], img[i + 2]);
    const rgb = hsvToRgb(h, Math.min(1, Math.max(0, s * factor)), v);
    img[i] = rgb[0];
    img[i + 1] = rgb[1];
    img[i + 2] = rgb[2];
  }
}

/** `tf.image.adjust_hue` on RGB HWC: h + delta, wrapped to [0, 1). */
export function adjustHue(img, delta) {
  for (let i = 0; i < img.length; i += 3) {
    const [h, s, v] = rgbToHsv(img[i], img[i + 1], img[i + 2]);
    let hh = (h + delta) % 1;
    if (hh < 0) hh += 1;
    const rgb = hsvToRgb(hh, s, v);
    img[i] = rgb[0];
    img[i + 1] = rgb[1];
    img[i + 2] = rgb[2];
  }
}

/** `tf.image.adjust_contrast` on HWC: per channel, (x − mean) × factor + mean. */
export function adjustContrast(img, C, factor) {
  const n = img.length / C;
  for (let c = 0; c < C; c++) {
    let sum = 0;
    for (let i = c; i < img.length; i += C) sum += img[i];
    const mean = sum / n;
    for (let i = c; i < img.length; i += C) img[i] = (img[i] - mean) * factor + mean;
  }
}

/**
 * `distort_color` on an RGB HWC float image, in place, then clipped to [0, 1].
 *
 * @param {Float32Array} img HWC, 3 channels, values in [0, 1]
 * @param {{fast: boolean, brightness: number, saturation: [number, number], hue: number, contrast: [number, number]}} o
 *   fast mode, the brightness max delta, saturation range, hue max delta and contrast range
 * @param {ArrayLike<number>} u five uniforms in [0, 1): ordering (full mode: one of 4), brightness,
 *   saturation, hue, contrast
 * @returns {number} the ordering applied
 */
export function distortColor(img, o, u) {
  const ordering = o.fast ? 0 : uniformInt(u[0], 4);
  const brightness = () => adjustBrightness(img, (2 * u[1] - 1) * o.brightness);
  const saturation = () => adjustSaturation(img, o.saturation[0] + u[2] * (o.saturation[1] - o.saturation[0]));
  const hue = () => adjustHue(img, (2 * u[3] - 1) * o.hue);
  const contrast = () => adjustContrast(img, 3, o.contrast[0] + u[4] * (o.contrast[1] - o.contrast[0]));
  const orders = o.fast
    ? [[brightness, saturation]]
    : [
        [brightness, saturation, hue, contrast],
        [saturation, brightness, contrast, hue],
        [contrast, hue, brightness, saturation],
        [hue, saturation, contrast, brightness],
      ];
  for (const f of orders[ordering]) f();
  for (let i = 0; i < img.length; i++) img[i] = Math.min(1, Math.max(0, img[i]));
  return ordering;
}
