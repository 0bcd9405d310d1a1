/** MNIST and Fashion-MNIST: pairs of IDX files (images, labels) read into an in-memory source. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../errors.js';
import { readIdxFile } from './idx.js';
import type { TensorSource } from './types.js';

/** The four files of an MNIST-style data set, by their official names. */
export const IDX_FILES = {
  trainImages: 'train-images-idx3-ubyte.gz',
  trainLabels: 'train-labels-idx1-ubyte.gz',
  testImages: 't10k-images-idx3-ubyte.gz',
  testLabels: 't10k-labels-idx1-ubyte.gz',
} as const;

/**
 * Find an IDX file in a folder under its official name, gzipped or not (also `train-images.idx3-ubyte`).
 *
 * @param dir - folder to look in.
 * @param gzName - the official gzipped name, e.g. `train-images-idx3-ubyte.gz`.
 * @returns the path found, or undefined.
 */
export function findIdxFile(dir: string, gzName: string): string | undefined {
  const plain = gzName.replace(/\.gz$/, '');
  for (const name of [gzName, plain, plain.replace(/-idx/, '.idx')]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * Read an images file and a labels file into one in-memory source (1 channel).
 *
 * @param imagesFile - `*-images-idx3-ubyte[.gz]` (N × rows × cols unsigned bytes).
 * @param labelsFile - `*-labels-idx1-ubyte[.gz]` (N unsigned bytes).
 * @param classes - number of classes; every label must be below it.
 * @throws DataError naming the file (and index) on a count mismatch or an out-of-range label.
 * @example
 * const src = await readIdxPair('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz', 10);
 * src.count; // 10000
 */
export async function readIdxPair(imagesFile: string, labelsFile: string, classes: number): Promise<TensorSource> {
  const [images, labels] = await Promise.all([readIdxFile(imagesFile, 3), readIdxFile(labelsFile, 1)]);
  const [n, rows, cols] = images.dims;
  if (labels.dims[0] !== n) {
    throw new DataError(`${labelsFile}: holds ${labels.dims[0]} labels but ${imagesFile} holds ${n} images; expected equal counts`);
  }
  if (n === 0) throw new DataError(`${imagesFile}: holds no images`);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = labels.data[i];
    if (v >= classes) {
      throw new DataError(`${labelsFile}: label ${v} at index ${i} (offset ${8 + i}) is out of range; expected 0..${classes - 1}`);
    }
    out[i] = v;
  }
  return { images: images.data, labels: out, count: n, channels: 1, height: rows, width: cols };
}

/**
 * Read the train and test sources of an MNIST-style folder holding the four official files.
 *
 * @param dir - folder with `train-images-idx3-ubyte.gz` and the three others (gzipped or not).
 * @param classes - number of classes (10).
 * @throws DataError listing the missing files.
 * @example
 * const { train, test } = await readIdxFolder('/usr/share/datasets/fashion-mnist', 10);
 */
export async function readIdxFolder(dir: string, classes: number): Promise<{ train: TensorSource; test: TensorSource }> {
  const found = Object.fromEntries(Object.entries(IDX_FILES).map(([k, name]) => [k, findIdxFile(dir, name)])) as Record<
    keyof typeof IDX_FILES,
    string | undefined
  >;
  const missing = Object.entries(found)
    .filter(([, p]) => p === undefined)
    .map(([k]) => IDX_FILES[k as keyof typeof IDX_FILES]);
  if (missing.length > 0) {
    throw new DataError(`${dir}: missing ${missing.join(', ')} (gzipped or not); expected the four IDX files of the data set`);
  }
  const [train, test] = await Promise.all([
    readIdxPair(found.trainImages!, found.trainLabels!, classes),
    readIdxPair(found.testImages!, found.testLabels!, classes),
  ]);
  return { train, test };
}
