/**
 * The real Fashion-MNIST from Debian's `dataset-fashion-mnist` package, and the embedded mini
 * subset made from it. Skipped (with the reason) where the package is missing; in CI they fail.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createLoader,
  type Dataset,
  DEBIAN_FASHION_MNIST_DIR,
  FASHION_MNIST_NORMALIZATION,
  miniFashionDir,
  readIdxFolder,
  resolveDataset,
  type TensorSource,
} from '../lib/data/index.js';
import { needFashionMnist } from './helpers/optional.js';

const need = needFashionMnist();

function histogram(labels: Int32Array): number[] {
  const h = new Array(10).fill(0);
  for (const l of labels) h[l]++;
  return h;
}

describe.skipIf(need.skip)(need.label('Fashion-MNIST from Debian (real data)'), () => {
  let ds: Dataset;
  let train: TensorSource;
  let test: TensorSource;
  beforeAll(async () => {
    need.require();
    ds = await resolveDataset('fashion-mnist', { download: false });
    if (ds.train.kind !== 'tensor' || ds.test.kind !== 'tensor') throw new Error('expected in-memory splits');
    train = ds.train.source;
    test = ds.test.source;
  });

  it('finds the Debian files without --data and reads 60,000 + 10,000 28×28 images', () => {
    expect(ds.location).toBe(DEBIAN_FASHION_MNIST_DIR);
    expect(train).toMatchObject({ count: 60000, channels: 1, height: 28, width: 28 });
    expect(test.count).toBe(10000);
    expect(ds.info).toMatchObject({ name: 'fashion-mnist', channels: 1, height: 28, width: 28, classes: 10 });
  });

  it('has 6,000 training and 1,000 test images per class', () => {
    expect(histogram(train.labels)).toEqual(new Array(10).fill(6000));
    expect(histogram(test.labels)).toEqual(new Array(10).fill(1000));
  });

  it('splits the training set 55,000/5,000, 500 per class', () => {
    expect([ds.train.size, ds.validation.size, ds.test.size]).toEqual([55000, 5000, 10000]);
    expect(histogram(ds.validation.labels)).toEqual(new Array(10).fill(500));
  });

  it('uses normalization constants that match the training pixels', () => {
    let sum = 0;
    let sq = 0;
    for (const v of train.images) {
      sum += v;
      sq += v * v;
    }
    const n = train.images.length;
    const mean = sum / n / 255;
    const std = Math.sqrt(sq / n / 65025 - mean * mean);
    expect(Math.abs(mean - FASHION_MNIST_NORMALIZATION.mean[0])).toBeLessThan(5e-4);
    expect(Math.abs(std - FASHION_MNIST_NORMALIZATION.std[0])).toBeLessThan(5e-4);
  });

  it('feeds normalized batches with mean ≈ 0 and std ≈ 1 over the test set', async () => {
    const loader = createLoader(ds.test, { batchSize: 1000 });
    let s = 0;
    let q = 0;
    let n = 0;
    for await (const b of loader.epoch(0)) {
      for (const v of b.images) {
        s += v;
        q += v * v;
      }
      n += b.images.length;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.02);
    expect(Math.abs(Math.sqrt(q / n - (s / n) ** 2) - 1)).toBeLessThan(0.02);
  });

  it('embeds a class-balanced subset of it: 3,000 + 1,000 images, each one a real Fashion-MNIST image', async () => {
    const mini = await readIdxFolder(miniFashionDir(), 10);
    expect(mini.train.count).toBe(3000);
    expect(mini.test.count).toBe(1000);
    expect(histogram(mini.train.labels)).toEqual(new Array(10).fill(300));
    expect(histogram(mini.test.labels)).toEqual(new Array(10).fill(100));
    // The mini set is the first 300 (100) images of each class, in file order.
    for (const [m, full, per] of [
      [mini.train, train, 300],
      [mini.test, test, 100],
    ] as const) {
      const counts = new Array(10).fill(0);
      let k = 0;
      for (let i = 0; i < full.count && k < m.count; i++) {
        const c = full.labels[i];
        if (counts[c] >= per) continue;
        counts[c]++;
        expect(m.labels[k]).toBe(c);
        expect(Buffer.from(m.images.subarray(k * 784, (k + 1) * 784)).equals(Buffer.from(full.images.subarray(i * 784, (i + 1) * 784)))).toBe(
          true,
        );
        k++;
      }
      expect(k).toBe(m.count);
    }
    const ds2 = await resolveDataset('fashion-mnist-mini');
    expect([ds2.train.size, ds2.validation.size, ds2.test.size]).toEqual([2500, 500, 1000]);
    expect(existsSync(join(miniFashionDir(), 'LICENSE'))).toBe(true);
  });
});
