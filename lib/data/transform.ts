/**
 * Per-image work for in-memory data sets, uint8 CHW in, normalized float32 CHW out:
 * 1. adapt: channels (1 → 3 repeated, 3 → 1 luminance) and size (zero pad / center crop, or bilinear);
 * 2. augment: pad-`padding` random crop, horizontal flip (torchvision's RandomCrop(padding=4) and
 *    RandomHorizontalFlip: padded pixels are black, i.e. raw 0 before normalization);
 * 3. normalize with per-channel lookup tables ((v / 255 − mean) / std);
 * 4. cutout (DeVries and Taylor, 2017): a square centred uniformly in the image, clipped at the
 *    borders, set to 0 after normalization.
 * Random draws per image, in order: crop dy, crop dx, flip, cutout y, cutout x (each only when on).
 */
import { ValidationError } from '../errors.js';
import type { Rng } from '../util/rng.js';
import type { ResizeMode, TensorSource } from './types.js';

/** Resolved augmentation for in-memory images. */
export interface TensorAugment {
  crop: boolean;
  padding: number;
  flip: boolean;
  /** Cutout side in pixels; 0 = off. */
  cutout: number;
}

/**
 * One lookup table per output channel mapping a raw byte to its normalized value.
 *
 * @param mean - per-channel mean on the [0, 1] scale.
 * @param std - per-channel std on the [0, 1] scale.
 * @param normalize - false gives v / 255.
 * @example
 * makeLuts([0.5], [0.5], true)[0][255]; // 1
 */
export function makeLuts(mean: number[], std: number[], normalize: boolean): Float32Array[] {
  return mean.map((m, c) => {
    const lut = new Float32Array(256);
    for (let v = 0; v < 256; v++) lut[v] = normalize ? (v / 255 - m) / std[c] : v / 255;
    return lut;
  });
}

/**
 * Apply cutout to one CHW image in place: zero the `length`-square centred at (cy, cx), clipped.
 * @param out - the batch buffer; the image (c × h × w) starts at `off`.
 * @param length - square side in pixels.
 * @param cy - centre row, drawn uniformly in [0, h).
 * @param cx - centre column, drawn uniformly in [0, w).
 * @example
 * applyCutout(batch, 0, 3, 32, 32, 16, rng.int(32), rng.int(32));
 */
export function applyCutout(
  out: Float32Array,
  off: number,
  c: number,
  h: number,
  w: number,
  length: number,
  cy: number,
  cx: number,
): void {
  const half = Math.floor(length / 2);
  const y0 = Math.max(0, cy - half);
  const y1 = Math.min(h, cy + half);
  const x0 = Math.max(0, cx - half);
  const x1 = Math.min(w, cx + half);
  for (let ch = 0; ch < c; ch++) {
    for (let y = y0; y < y1; y++) out.fill(0, off + (ch * h + y) * w + x0, off + (ch * h + y) * w + x1);
  }
}

/** Turns images of a {@link TensorSource} into normalized, augmented float32 CHW images of a fixed shape. */
export class TensorSampler {
  private readonly scratch: Uint8Array;
  private readonly needAdapt: boolean;
  private readonly srcPlane: number;

  /**
   * @param source - the uint8 images.
   * @param out - fed shape: channels (1 or 3, or equal to the source's), height, width.
   * @param luts - one normalization table per fed channel ({@link makeLuts}).
   * @param resize - size adaptation when shapes differ.
   * @param augment - crop / flip / cutout.
   */
  constructor(
    private readonly source: TensorSource,
    private readonly out: { channels: number; height: number; width: number },
    private readonly luts: Float32Array[],
    private readonly resize: ResizeMode,
    private readonly augment: TensorAugment,
  ) {
    const { channels: sc } = source;
    const oc = out.channels;
    if (!(oc === sc || (sc === 1 && oc === 3) || (sc === 3 && oc === 1))) {
      throw new ValidationError(`Cannot adapt ${sc}-channel images to ${oc} channels; expected 1 → 3, 3 → 1 or equal`);
    }
    if (luts.length !== oc) throw new ValidationError(`Expected ${oc} normalization tables but received ${luts.length}`);
    this.needAdapt = oc !== sc || out.height !== source.height || out.width !== source.width;
    this.scratch = new Uint8Array(this.needAdapt ? oc * out.height * out.width : 0);
    this.srcPlane = source.height * source.width;
  }

  /** Values per output image (C·H·W). */
  get sampleSize(): number {
    return this.out.channels * this.out.height * this.out.width;
  }

  private adapt(index: number): void {
    const { images, channels: sc, height: sh, width: sw } = this.source;
    const { channels: oc, height: oh, width: ow } = this.out;
    const base = index * sc * this.srcPlane;
    const dst = this.scratch;
    const plane = oh * ow;
    for (let c = 0; c < oc; c++) {
      // Source plane(s) for output channel c.
      const gray = sc === 3 && oc === 1;
      const sbase = base + (sc === 1 ? 0 : c) * this.srcPlane;
      const px = (y: number, x: number): number => {
        const o = y * sw + x;
        if (!gray) return images[sbase + o];
        const p = this.srcPlane;
        return Math.round(0.299 * images[base + o] + 0.587 * images[base + p + o] + 0.114 * images[base + 2 * p + o]);
      };
      const dbase = c * plane;
      if (this.resize === 'pad' || (oh === sh && ow === sw)) {
        const py = Math.floor((oh - sh) / 2);
        const pxo = Math.floor((ow - sw) / 2);
        for (let y = 0; y < oh; y++) {
          const sy = y - py;
          for (let x = 0; x < ow; x++) {
            const sx = x - pxo;
            dst[dbase + y * ow + x] = sy >= 0 && sy < sh && sx >= 0 && sx < sw ? px(sy, sx) : 0;
          }
        }
      } else {
        // Bilinear with half-pixel centres (align_corners = false), edges clamped.
        for (let y = 0; y < oh; y++) {
          const fy = Math.min(Math.max(((y + 0.5) * sh) / oh - 0.5, 0), sh - 1);
          const y0 = Math.floor(fy);
          const y1 = Math.min(y0 + 1, sh - 1);
          const wy = fy - y0;
          for (let x = 0; x < ow; x++) {
            const fx = Math.min(Math.max(((x + 0.5) * sw) / ow - 0.5, 0), sw - 1);
            const x0 = Math.floor(fx);
            const x1 = Math.min(x0 + 1, sw - 1);
            const wx = fx - x0;
            const top = px(y0, x0) * (1 - wx) + px(y0, x1) * wx;
            const bottom = px(y1, x0) * (1 - wx) + px(y1, x1) * wx;
            dst[dbase + y * ow + x] = Math.round(top * (1 - wy) + bottom * wy);
          }
        }
      }
    }
  }

  /**
   * Write source image `index` into `out` at `off` (C·H·W floats).
   *
   * @param index - image index in the source.
   * @param out - destination (a batch buffer).
   * @param off - offset of this image in `out`.
   * @param rng - the batch's stream; used only when some augmentation is on.
   */
  write(index: number, out: Float32Array, off: number, rng: Rng | null): void {
    const { channels: C, height: H, width: W } = this.out;
    let img: Uint8Array;
    let ib: number;
    if (this.needAdapt) {
      this.adapt(index);
      img = this.scratch;
      ib = 0;
    } else {
      img = this.source.images;
      ib = index * C * H * W;
    }
    const aug = this.augment;
    const p = aug.crop ? aug.padding : 0;
    let dy = p;
    let dx = p;
    let flip = false;
    if (rng !== null) {
      if (aug.crop) {
        dy = rng.int(2 * p + 1);
        dx = rng.int(2 * p + 1);
      }
      if (aug.flip) flip = rng.uint32() >= 0x80000000;
    }
    const shiftX = dx - p;
    for (let c = 0; c < C; c++) {
      const lut = this.luts[c];
      const zero = lut[0];
      const plane = ib + c * H * W;
      for (let y = 0; y < H; y++) {
        const o = off + (c * H + y) * W;
        const sy = y + dy - p;
        if (sy < 0 || sy >= H) {
          out.fill(zero, o, o + W);
          continue;
        }
        const row = plane + sy * W;
        if (!flip && shiftX === 0) {
          for (let x = 0; x < W; x++) out[o + x] = lut[img[row + x]];
        } else {
          for (let x = 0; x < W; x++) {
            const sx = (flip ? W - 1 - x : x) + shiftX;
            out[o + x] = sx >= 0 && sx < W ? lut[img[row + sx]] : zero;
          }
        }
      }
    }
    if (rng !== null && aug.cutout > 0) applyCutout(out, off, C, H, W, aug.cutout, rng.int(H), rng.int(W));
  }
}
