import { describe, expect, it } from 'vitest';
import {
  type Batch,
  createLoader,
  type DatasetInfo,
  resolveDataset,
  type TensorSource,
  tensorSplit,
} from '../lib/data/index.js';
import { ValidationError } from '../lib/errors.js';
import { Rng } from '../lib/util/rng.js';

const MEAN = [0.5, 0.4, 0.3];
const STD = [0.25, 0.2, 0.1];

/** n random 3×8×8 images, labels n % 5. */
function source(n: number, c = 3, h = 8, w = 8): TensorSource {
  const rng = Rng.stream(99);
  const images = Uint8Array.from({ length: n * c * h * w }, () => rng.int(256));
  return { images, labels: Int32Array.from({ length: n }, (_, i) => i % 5), count: n, channels: c, height: h, width: w };
}

function info(c = 3, h = 8, w = 8): DatasetInfo {
  return { name: 'synthetic', channels: c, height: h, width: w, classes: 5, mean: MEAN.slice(0, c), std: STD.slice(0, c) };
}

async function collect(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

const norm = (v: number, c: number) => Math.fround((v / 255 - MEAN[c]) / STD[c]);

describe('createLoader on in-memory splits', () => {
  const src = source(37);
  const split = tensorSplit('train', src, undefined, info());

  it('yields NCHW float32 batches normalized with the data set constants, in order without shuffle', async () => {
    const loader = createLoader(split, { batchSize: 16 });
    expect(loader.batchesPerEpoch).toBe(3);
    const batches = await collect(loader.epoch(0));
    expect(batches.map((b) => b.size)).toEqual([16, 16, 5]);
    const b = batches[1];
    expect(b.images).toBeInstanceOf(Float32Array);
    expect(b.labels).toBeInstanceOf(Int32Array);
    expect(b.images.length).toBe(16 * 3 * 64);
    expect([...b.positions]).toEqual(Array.from({ length: 16 }, (_, i) => 16 + i));
    // Image 20 (batch 1, slot 4), channel 2, pixel (3, 5).
    const v = src.images[20 * 192 + 2 * 64 + 3 * 8 + 5];
    expect(b.images[4 * 192 + 2 * 64 + 3 * 8 + 5]).toBe(norm(v, 2));
    expect(b.labels[4]).toBe(0);
  });

  it('epoch(e, from) yields exactly the batches of epoch e from batch `from` on', async () => {
    const opts = { batchSize: 8, shuffle: true, seed: 3, augment: { crop: true, flip: true } };
    const all = await collect(createLoader(split, opts).epoch(2));
    const tail = await collect(createLoader(split, opts).epoch(2, 3));
    expect(tail.map((b) => b.index)).toEqual([3, 4]);
    expect(tail.map((b) => [...b.images])).toEqual(all.slice(3).map((b) => [...b.images]));
    expect(await collect(createLoader(split, opts).epoch(2, 5))).toEqual([]);
    await expect(collect(createLoader(split, opts).epoch(2, 6))).rejects.toThrow('Expected integer in [0, 5] for from but received 6 of type number');
  });

  it('keeps or drops the last partial batch by option', async () => {
    const keep = createLoader(split, { batchSize: 10 });
    const drop = createLoader(split, { batchSize: 10, dropLast: true });
    expect([keep.batchesPerEpoch, drop.batchesPerEpoch]).toEqual([4, 3]);
    expect((await collect(drop.epoch(0))).map((b) => b.size)).toEqual([10, 10, 10]);
    expect((await collect(keep.epoch(0))).map((b) => b.size)).toEqual([10, 10, 10, 7]);
  });

  it('shuffles each epoch: every image once, the same order for the same seed and epoch', async () => {
    const opts = { batchSize: 8, shuffle: true, seed: 3, augment: { crop: true, flip: true, cutout: 4 } };
    const a = await collect(createLoader(split, opts).epoch(2));
    const b = await collect(createLoader(split, { ...opts, prefetch: 0 }).epoch(2));
    const c = await collect(createLoader(split, opts).epoch(3));
    const d = await collect(createLoader(split, { ...opts, seed: 4 }).epoch(2));
    const order = (bs: Batch[]) => bs.flatMap((x) => [...x.positions]);
    expect([...order(a)].sort((x, y) => x - y)).toEqual(Array.from({ length: 37 }, (_, i) => i));
    expect(order(b)).toEqual(order(a));
    expect(a.map((x) => [...x.images])).toEqual(b.map((x) => [...x.images]));
    expect(order(c)).not.toEqual(order(a));
    expect(order(d)).not.toEqual(order(a));
    // Labels travel with their images.
    for (const x of a) expect([...x.labels]).toEqual([...x.positions].map((p) => p % 5));
  });

  it('random crop: each image is the source shifted by at most 4 pixels, with black padding', async () => {
    const loader = createLoader(split, { batchSize: 37, seed: 1, augment: { crop: true } });
    const [b] = await collect(loader.epoch(0));
    const shifts = new Set<string>();
    for (let k = 0; k < 37; k++) {
      let found: string | undefined;
      for (let dy = -4; dy <= 4 && !found; dy++) {
        for (let dx = -4; dx <= 4 && !found; dx++) {
          let ok = true;
          for (let c = 0; c < 3 && ok; c++) {
            for (let y = 0; y < 8 && ok; y++) {
              for (let x = 0; x < 8 && ok; x++) {
                const sy = y + dy;
                const sx = x + dx;
                const raw = sy >= 0 && sy < 8 && sx >= 0 && sx < 8 ? src.images[k * 192 + c * 64 + sy * 8 + sx] : 0;
                ok = b.images[k * 192 + c * 64 + y * 8 + x] === norm(raw, c);
              }
            }
          }
          if (ok) found = `${dy},${dx}`;
        }
      }
      expect(found, `image ${k} is no shift of its source`).toBeDefined();
      shifts.add(found!);
    }
    expect(shifts.size).toBeGreaterThan(10);
  });

  it('flip: each image is the source or its mirror, and both happen', async () => {
    const [b] = await collect(createLoader(split, { batchSize: 37, seed: 1, augment: { flip: true } }).epoch(0));
    let flipped = 0;
    for (let k = 0; k < 37; k++) {
      const same = b.images[k * 192] === norm(src.images[k * 192], 0);
      let mirror = true;
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < 8; y++) {
          for (let x = 0; x < 8; x++) {
            const want = norm(src.images[k * 192 + c * 64 + y * 8 + (same ? x : 7 - x)], c);
            if (b.images[k * 192 + c * 64 + y * 8 + x] !== want) mirror = false;
          }
        }
      }
      expect(mirror).toBe(true);
      if (!same) flipped++;
    }
    expect(flipped).toBeGreaterThan(5);
    expect(flipped).toBeLessThan(32);
  });

  it('cutout zeroes one square (after normalization) and leaves the rest', async () => {
    const [b] = await collect(createLoader(split, { batchSize: 37, seed: 2, augment: { cutout: 4 } }).epoch(0));
    for (let k = 0; k < 37; k++) {
      let ys: number[] = [];
      let xs: number[] = [];
      for (let y = 0; y < 8; y++) {
        for (let x = 0; x < 8; x++) {
          const zero = [0, 1, 2].every((c) => b.images[k * 192 + c * 64 + y * 8 + x] === 0);
          const kept = [0, 1, 2].every((c) => b.images[k * 192 + c * 64 + y * 8 + x] === norm(src.images[k * 192 + c * 64 + y * 8 + x], c));
          expect(zero || kept).toBe(true);
          if (zero && !kept) {
            ys.push(y);
            xs.push(x);
          }
        }
      }
      ys = [...new Set(ys)];
      xs = [...new Set(xs)];
      expect(ys.length).toBeLessThanOrEqual(4);
      expect(xs.length).toBeLessThanOrEqual(4);
    }
  });

  it('repeats a gray channel to 3 and pads 28 → 32 (the fed shape in info)', async () => {
    const ds = await resolveDataset('fashion-mnist-mini', { channels: 3, size: 32 });
    expect(ds.info).toMatchObject({ channels: 3, height: 32, width: 32, mean: [0.286, 0.286, 0.286], std: [0.353, 0.353, 0.353] });
    const loader = createLoader(ds.test, { batchSize: 4 });
    expect(loader.info.channels).toBe(3);
    const [b] = await collect(loader.epoch(0));
    if (ds.test.kind !== 'tensor') throw new Error('expected an in-memory split');
    const s = ds.test.source;
    const f = (v: number) => Math.fround((v / 255 - 0.286) / 0.353);
    for (let c = 0; c < 3; c++) {
      expect(b.images[1 * 3072 + c * 1024 + 0]).toBe(f(0)); // padding
      expect(b.images[1 * 3072 + c * 1024 + (2 + 10) * 32 + (2 + 14)]).toBe(f(s.images[784 + 10 * 28 + 14]));
    }
    // The loader can also adapt on its own: bilinear resize of a constant image stays constant.
    const flat: TensorSource = { images: new Uint8Array(2 * 784).fill(200), labels: Int32Array.from([0, 1]), count: 2, channels: 1, height: 28, width: 28 };
    const gray = { ...info(1, 28, 28), mean: [0], std: [1] };
    const up = createLoader(tensorSplit('test', flat, undefined, gray, 'bilinear'), { batchSize: 2, outputSize: 56, outputChannels: 3 });
    expect(up.info).toMatchObject({ channels: 3, height: 56, width: 56, mean: [0, 0, 0] });
    const [ub] = await collect(up.epoch(0));
    expect(ub.images.length).toBe(2 * 3 * 56 * 56);
    expect(ub.images.every((v) => v === Math.fround(200 / 255))).toBe(true);
  });

  it('takes the luminance for 3 → 1 channels', async () => {
    const one = createLoader(split, { batchSize: 1, outputChannels: 1, normalize: false });
    const [b] = await collect(one.epoch(0));
    const lum = Math.round(0.299 * src.images[0] + 0.587 * src.images[64] + 0.114 * src.images[128]);
    expect(b.images[0]).toBe(Math.fround(lum / 255));
    expect(one.info.mean[0]).toBeCloseTo(0.299 * 0.5 + 0.587 * 0.4 + 0.114 * 0.3, 10);
  });

  it('stops cleanly when the consumer breaks early', async () => {
    const loader = createLoader(split, { batchSize: 4, prefetch: 3, epoch: 5, shuffle: true });
    let n = 0;
    for await (const b of loader.epoch()) {
      n += b.size;
      if (n >= 8) break;
    }
    expect(n).toBe(8);
    const again = await collect(loader.epoch());
    expect(again.length).toBe(10);
  });

  it('rejects bad options with messages naming them', () => {
    expect(() => createLoader(split, { batchSize: -3 })).toThrow(
      new ValidationError('Expected positive integer for batchSize but received -3 of type number'),
    );
    expect(() => createLoader(split, { batchSize: 40, dropLast: true })).toThrow(
      "batchSize 40 with dropLast leaves no batch of the 37 images of split 'train'; expected batchSize <= 37",
    );
    expect(() => createLoader(split, { batchSize: 4, outputChannels: 2 as 1 })).toThrow('Expected 1 or 3 for outputChannels but received 2');
    expect(() => createLoader(split, { batchSize: 4, seed: 1.5 })).toThrow('Expected non-negative integer for seed but received 1.5 of type number');
    expect(() => createLoader(split, { batchSize: 4, augment: { scale: [0.5, 0.1] } })).toThrow(
      'Expected [lo, hi] with 0 < lo <= hi for augment.scale but received [0.5,0.1]',
    );
  });
});
