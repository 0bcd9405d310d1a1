import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adjustContrast,
  adjustHue,
  adjustSaturation,
  centralCropBox,
  distortColor,
  hsvToRgb,
  lrint,
  resizeBilinear,
  rgbToHsv,
  sampleDistortedBox,
} from '../lib/data/inception.mjs';
import { type Batch, createLoader, INCEPTION_COLOR, INCEPTION_CROP, type Loader, resolveDataset } from '../lib/data/index.js';
import { ValidationError } from '../lib/errors.js';
import { removeTempDirs, tempDir, writeImageFolder } from './helpers/data-fixtures.js';

afterAll(removeTempDirs);

const loaders: Loader[] = [];
afterAll(async () => {
  await Promise.all(loaders.map((l) => l.close()));
});

async function first(l: Loader, epoch = 0): Promise<Batch> {
  loaders.push(l);
  for await (const b of l.epoch(epoch)) return b;
  throw new Error('no batch');
}

/** A deterministic uniform stream for the pure functions (the loader draws from DataRng). */
function uniforms(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  });
}

describe("TF-slim's Inception preprocessing, function by function", () => {
  it('rounds half to even like lrintf', () => {
    expect([0.5, 1.5, 2.5, -2.5, 2.4, 2.6].map(lrint)).toEqual([0, 2, 2, -2, 2, 3]);
  });

  it("sample_distorted_bounding_box: TF's GenerateRandomCrop step by step on one attempt", () => {
    // aspect = 0.75 + 0.5 × 0.58 = 1.04; min area 1,000, max 20,000 of 200×100;
    // height in [lrint(√(1000/1.04)) = 31, min(lrint(√(20000/1.04)) = 139, 100)]: 31 + ⌊0.25 × 70⌋ = 48;
    // width lrint(48 × 1.04) = 50; top ⌊0.5 × (100 − 48)⌋ = 26, left ⌊0.5 × (200 − 50)⌋ = 75.
    expect(sampleDistortedBox(200, 100, INCEPTION_CROP, [0.5, 0.25, 0.5, 0.5])).toEqual({ left: 75, top: 26, width: 50, height: 48 });
  });

  it('sample_distorted_bounding_box: every box fits, keeps the aspect and area ranges, covers >= 10%', () => {
    for (let t = 0; t < 300; t++) {
      const W = 20 + ((t * 37) % 480);
      const H = 20 + ((t * 91) % 380);
      const b = sampleDistortedBox(W, H, INCEPTION_CROP, uniforms(4 * INCEPTION_CROP.attempts, t + 1));
      expect(b.left >= 0 && b.top >= 0 && b.left + b.width <= W && b.top + b.height <= H).toBe(true);
      const area = (b.width * b.height) / (W * H);
      if (b.width === W && b.height === H) continue; // the fallback
      expect(area).toBeGreaterThanOrEqual(Math.max(INCEPTION_CROP.minObjectCovered, INCEPTION_CROP.area[0]) - 1e-12);
      // The width is rounded from height × aspect: the aspect holds within half a pixel.
      expect(b.width / b.height).toBeGreaterThan(INCEPTION_CROP.aspect[0] - 0.5 / b.height - 1e-9);
      expect(b.width / b.height).toBeLessThan(INCEPTION_CROP.aspect[1] + 0.5 / b.height + 1e-9);
    }
    // No attempt can satisfy the area range on a 100×1 strip: the whole image.
    expect(sampleDistortedBox(100, 1, INCEPTION_CROP, uniforms(400, 3))).toEqual({ left: 0, top: 0, width: 100, height: 1 });
  });

  it('central_crop(0.875): start int((side − 0.875 side) / 2) on each axis', () => {
    expect(centralCropBox(500, 375, 0.875)).toEqual({ left: 31, top: 23, width: 438, height: 329 });
    expect(centralCropBox(256, 256, 0.875)).toEqual({ left: 16, top: 16, width: 224, height: 224 });
  });

  it("resize_bilinear (TF1, no half-pixel centres) reproduces a ramp exactly and samples, not averages, when shrinking", () => {
    const W = 10;
    const ramp = Uint8Array.from({ length: W * 4 }, (_, i) => (i % W) * 20); // 1 channel, 4 rows
    const up = resizeBilinear(ramp, W, 1, { left: 0, top: 0, width: W, height: 4 }, 25, 4);
    for (let x = 0; x < 25; x++) {
      // source x = out x × 10 / 25, clamped to the last column: linear interpolation of a ramp is exact.
      expect(up[x] * 255).toBeCloseTo(Math.min((x * 10) / 25, W - 1) * 20, 3);
    }
    const down = resizeBilinear(ramp, W, 1, { left: 2, top: 0, width: 8, height: 4 }, 4, 2);
    expect(Array.from(down.subarray(0, 4), (v) => Math.round(v * 255))).toEqual([40, 80, 120, 160]); // columns 2, 4, 6, 8
    const flipped = resizeBilinear(ramp, W, 1, { left: 2, top: 0, width: 8, height: 4 }, 4, 2, true);
    expect(Array.from(flipped.subarray(0, 4), (v) => Math.round(v * 255))).toEqual([160, 120, 80, 40]);
  });

  it('rgb_to_hsv and hsv_to_rgb invert each other; hue +1/3 turns red into green', () => {
    for (const [r, g, b] of [[0.2, 0.7, 0.4], [1, 0, 0], [0.3, 0.3, 0.3], [0.9, 0.1, 0.95], [0, 0, 0]]) {
      const back = hsvToRgb(...rgbToHsv(r, g, b));
      expect(back[0]).toBeCloseTo(r, 6);
      expect(back[1]).toBeCloseTo(g, 6);
      expect(back[2]).toBeCloseTo(b, 6);
    }
    const img = Float32Array.from([1, 0, 0]);
    adjustHue(img, 1 / 3);
    expect(Array.from(img, (v) => Math.round(v * 1e6) / 1e6)).toEqual([0, 1, 0]);
  });

  it('adjust_saturation: factor 0 gives gray at the max channel (V), 1 changes nothing; adjust_contrast keeps the mean', () => {
    const img = Float32Array.from([0.2, 0.7, 0.4, 0.9, 0.1, 0.5]);
    const same = Float32Array.from(img);
    adjustSaturation(same, 1);
    for (let i = 0; i < img.length; i++) expect(same[i]).toBeCloseTo(img[i], 6);
    const gray = Float32Array.from(img);
    adjustSaturation(gray, 0);
    expect(Array.from(gray, (v) => Math.round(v * 1e6) / 1e6)).toEqual([0.7, 0.7, 0.7, 0.9, 0.9, 0.9]);
    const c = Float32Array.from(img);
    adjustContrast(c, 3, 1.5);
    // Channel 0: mean 0.55, deviations ±0.35 → ±0.525.
    expect(c[0]).toBeCloseTo(0.55 - 0.525, 6);
    expect(c[3]).toBeCloseTo(0.55 + 0.525, 6);
  });

  it('distort_color (fast): brightness ± 32/255 then saturation, clipped to [0, 1]', () => {
    const o = { fast: true, ...INCEPTION_COLOR };
    const gray = new Float32Array(12).fill(0.5);
    // u[1] = 1 → delta +32/255; a gray image has no saturation to scale.
    expect(distortColor(gray, o, [0, 1, 0.3, 0.5, 0.5])).toBe(0);
    for (const v of gray) expect(v).toBeCloseTo(0.5 + 32 / 255, 6);
    const bright = new Float32Array(3).fill(0.99);
    distortColor(bright, o, [0, 1, 0.5, 0.5, 0.5]);
    expect(Array.from(bright)).toEqual([1, 1, 1]);
    // Full mode draws one of four orderings from u[0].
    expect(distortColor(new Float32Array(3).fill(0.5), { ...o, fast: false }, [0.8, 0.5, 0.5, 0.5, 0.5])).toBe(3);
  });
});

describe("image folders with preprocessing: 'inception'", () => {
  let root: string;
  beforeAll(async () => {
    root = tempDir();
    await writeImageFolder(join(root, 'train'), 2, 4, 80, 60);
    await writeImageFolder(join(root, 'val'), 2, 1, 80, 60);
  });

  it('evaluation: central 87.5%, bilinear to the size, scaled to [-1, 1]', async () => {
    // A 64×64 PNG: left half (32 columns) red, right half blue.
    const dir = tempDir();
    const data = Buffer.alloc(64 * 64 * 3);
    for (let p = 0; p < 64 * 64; p++) data.set(p % 64 < 32 ? [255, 0, 0] : [0, 0, 255], 3 * p);
    const png = await sharp(data, { raw: { width: 64, height: 64, channels: 3 } }).png().toBuffer();
    for (const split of ['train', 'val']) {
      await writeImageFolder(join(dir, split), 1, 1);
      writeFileSync(join(dir, split, 'c0', 'img0.jpg'), png);
    }
    const ds = await resolveDataset(`folder:${dir}`, { size: 28, preprocessing: 'inception' });
    expect(ds.info.mean).toEqual([0.5, 0.5, 0.5]);
    expect(ds.info.std).toEqual([0.5, 0.5, 0.5]);
    expect(ds.defaultAugment).toEqual({ crop: true, flip: true, colorDistortion: 'fast' });
    const b = await first(createLoader(ds.validation, { batchSize: 1, workers: 1 }));
    // Central crop of 64: start 4, 56 wide; output x samples source 4 + x × 2 (56 / 28), so
    // columns 0..13 read source columns 4..30 (red) and 14.. read 32.. (blue).
    const at = (c: number, x: number) => b.images[c * 784 + 10 * 28 + x];
    expect([at(0, 0), at(1, 0), at(2, 0)]).toEqual([1, -1, -1]);
    expect([at(0, 13), at(2, 13)]).toEqual([1, -1]);
    expect([at(0, 14), at(2, 14)]).toEqual([-1, 1]);
  });

  it('training: distorted crop, flip and colour distortion, seeded; values stay in [-1, 1]', async () => {
    const ds = await resolveDataset(`folder:${root}`, { size: 32, preprocessing: 'inception' });
    const opts = { batchSize: 4, shuffle: true, seed: 5, augment: ds.defaultAugment };
    const a = await first(createLoader(ds.train, { ...opts, workers: 1 }));
    const b = await first(createLoader(ds.train, { ...opts, workers: 2, prefetch: 0 }));
    expect(Buffer.from(a.images.buffer).equals(Buffer.from(b.images.buffer))).toBe(true);
    expect(Math.min(...a.images)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...a.images)).toBeLessThanOrEqual(1);
    const plain = await first(createLoader(ds.train, { ...opts, augment: { crop: true, flip: true }, workers: 1 }));
    expect(Buffer.from(plain.images.buffer).equals(Buffer.from(a.images.buffer))).toBe(false);
  });

  it('colour distortion needs Inception preprocessing', async () => {
    const ds = await resolveDataset(`folder:${root}`, { size: 32 });
    expect(() => createLoader(ds.train, { batchSize: 2, augment: { colorDistortion: 'fast' } })).toThrow(ValidationError);
    await expect(resolveDataset('fashion-mnist-mini', { preprocessing: 'inception' })).rejects.toThrow(
      "preprocessing 'inception' applies to image folders; fashion-mnist-mini is held in memory",
    );
  });
});
