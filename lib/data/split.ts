/** Fixed, seeded train/validation splits of a training set, and in-memory splits over a shared source. */
import { checkInteger } from '../util/check.js';
import { Rng } from '../util/rng.js';
import type { DatasetInfo, ResizeMode, TensorSource, TensorSplit } from './types.js';

/** The seed of the default split (the same split on every machine, every run). */
export const DEFAULT_SPLIT_SEED = 0;

/**
 * Split a labelled set into training and validation indices: stratified by class (each class
 * gives its share of the validation set, largest remainder first) and seeded, so the split is
 * fixed. CIFAR's 50,000 training images give 45,000/5,000 with exactly 500 per class.
 *
 * @param labels - label of every image (length N).
 * @param classes - number of classes.
 * @param validationSize - images held out, in [0, N).
 * @param seed - split seed; default {@link DEFAULT_SPLIT_SEED}.
 * @returns ascending index lists `train` (N − validationSize) and `validation`.
 * @example
 * const { train, validation } = splitTrainValidation(source.labels, 10, 5000); // 45000 / 5000
 */
export function splitTrainValidation(
  labels: Int32Array,
  classes: number,
  validationSize: number,
  seed = DEFAULT_SPLIT_SEED,
): { train: Int32Array; validation: Int32Array } {
  const n = labels.length;
  checkInteger(validationSize, 'validationSize', { min: 0, max: n, maxOpen: true });
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < n; i++) byClass[labels[i]].push(i);
  const quotas = byClass.map((ids) => (validationSize * ids.length) / n);
  const take = quotas.map(Math.floor);
  let left = validationSize - take.reduce((a, b) => a + b, 0);
  const order = quotas
    .map((q, c) => ({ c, frac: q - Math.floor(q) }))
    .sort((a, b) => b.frac - a.frac || a.c - b.c);
  for (const { c } of order) {
    if (left === 0) break;
    if (take[c] < byClass[c].length) {
      take[c]++;
      left--;
    }
  }
  const rng = Rng.stream(seed, 0x5e17);
  const isVal = new Uint8Array(n);
  byClass.forEach((ids, c) => {
    const a = Int32Array.from(ids);
    rng.shuffle(a);
    for (let k = 0; k < take[c]; k++) isVal[a[k]] = 1;
  });
  const train = new Int32Array(n - validationSize);
  const validation = new Int32Array(validationSize);
  let t = 0;
  let v = 0;
  for (let i = 0; i < n; i++) {
    if (isVal[i]) validation[v++] = i;
    else train[t++] = i;
  }
  return { train, validation };
}

/**
 * An in-memory split: the images of `source` at `indices`.
 *
 * @param name - `train`, `validation` or `test`.
 * @param source - the shared uint8 images and labels.
 * @param indices - which images, in order; default all.
 * @param info - the fed shape and normalization.
 * @param resize - how sizes are adapted; default `'pad'`.
 * @example
 * const test = tensorSplit('test', source, undefined, info);
 */
export function tensorSplit(
  name: string,
  source: TensorSource,
  indices: Int32Array | undefined,
  info: DatasetInfo,
  resize: ResizeMode = 'pad',
): TensorSplit {
  const idx = indices ?? Int32Array.from({ length: source.count }, (_, i) => i);
  const labels = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) labels[i] = source.labels[idx[i]];
  return { kind: 'tensor', name, size: idx.length, info, source, indices: idx, labels, resize };
}
