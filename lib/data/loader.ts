/**
 * Batches from a split: seeded shuffling per epoch, augmentation, NCHW float32 images and int32
 * labels, a bounded prefetch queue. Determinism: the order of epoch e is a Fisher–Yates shuffle
 * drawn from `Rng.stream(seed, e, 0)`; batch b's augmentation is drawn from `Rng.stream(seed, e, 1, b)`
 * in image order, so the same seed and epoch give the same batches on any machine, whatever the
 * prefetch depth or the number of decode workers.
 */
import { availableParallelism } from 'node:os';
import { DataError, ValidationError } from '../errors.js';
import { checkInteger, invalid, received } from '../util/check.js';
import { Rng } from '../util/rng.js';
import { adaptInfo } from './adapt.js';
import { type ColorOptions, DecodePool } from './decode-pool.js';
import { COLOR_UNIFORMS, INCEPTION_CENTRAL_FRACTION, INCEPTION_COLOR, INCEPTION_CROP } from './inception.js';
import { prefetchOrdered } from './prefetch.js';
import { applyCutout, makeLuts, TensorSampler } from './transform.js';
import type { AugmentOptions, Batch, DatasetInfo, FileSplit, Split, TensorSplit } from './types.js';

/** Options of {@link createLoader}. */
export interface LoaderOptions {
  /** Images per batch, ≥ 1. */
  batchSize: number;
  /** Shuffle the order each epoch; default false. */
  shuffle?: boolean;
  /** Seed of shuffling and augmentation; default 0. */
  seed?: number;
  /** The epoch `loader.epoch()` runs when called without one; default 0. */
  epoch?: number;
  /** Augmentation (training); default none. */
  augment?: AugmentOptions | false;
  /** Drop the last partial batch; default false (keep it). */
  dropLast?: boolean;
  /** Batches prepared ahead of the one being used; default 2. */
  prefetch?: number;
  /** Channels fed (1 or 3); default the split's. */
  outputChannels?: 1 | 3;
  /** Square side fed; default the split's. */
  outputSize?: number;
  /** Normalize with the data set's mean/std; default true (false gives values in [0, 1]). */
  normalize?: boolean;
  /** Decode worker threads for folder splits; default min(4, cores − 1), at least 1. */
  workers?: number;
  /** Folder splits: skip undecodable images (warned, counted) instead of failing; default false. */
  skipCorrupt?: boolean;
  /** Where warnings go (skipped images, per-epoch skip counts); default stderr. */
  onWarning?: (message: string) => void;
}

/** Batches over one split; see {@link createLoader}. */
export interface Loader {
  /** The fed shape and normalization. */
  readonly info: DatasetInfo;
  /** Images in the split. */
  readonly size: number;
  readonly batchSize: number;
  /** Batches per epoch, known up front (fewer only when images are skipped and a batch empties). */
  readonly batchesPerEpoch: number;
  /** Undecodable images skipped so far (folder splits with `skipCorrupt`). */
  readonly skipped: { count: number; files: string[] };
  /**
   * The batches of epoch `e`, in order, from batch `from` on (a run resumed in the middle of an
   * epoch gets exactly the batches it had not seen: the same order and augmentation).
   * @param e - epoch number, non-negative integer; default the `epoch` option.
   * @param from - index of the first batch, in [0, batchesPerEpoch]; default 0.
   */
  epoch(e?: number, from?: number): AsyncGenerator<Batch, void, undefined>;
  /** Stop decode workers (folder splits); the loader can still run epochs after, starting new ones. */
  close(): Promise<void>;
}

function cutoutSize(c: AugmentOptions['cutout']): number {
  if (c === undefined || c === false) return 0;
  if (c === true) return 16;
  return checkInteger(c, 'augment.cutout', { min: 0 });
}

function range(name: string, r: [number, number] | undefined, dflt: [number, number]): [number, number] {
  const v = r ?? dflt;
  if (!Array.isArray(v) || v.length !== 2 || !(v[0] > 0) || !(v[1] >= v[0])) throw invalid(name, '[lo, hi] with 0 < lo <= hi', received(r));
  return v;
}

/**
 * Make a batch loader over a split.
 *
 * @param split - a split from `resolveDataset` (in-memory or folder).
 * @param options - batch size (required), shuffle, seed, augmentation, drop-last, prefetch depth,
 *   output channels/size, decode workers, skip-corrupt; see {@link LoaderOptions}.
 * @throws ValidationError naming the bad option.
 * @example
 * const ds = await resolveDataset('cifar10');
 * const loader = createLoader(ds.train, { batchSize: 128, shuffle: true, seed: 1, augment: ds.defaultAugment });
 * for await (const batch of loader.epoch(0)) await step(batch.images, batch.labels, batch.size);
 * await loader.close();
 */
export function createLoader(split: Split, options: LoaderOptions): Loader {
  const batchSize = checkInteger(options.batchSize, 'batchSize');
  const seed = checkInteger(options.seed ?? 0, 'seed', { min: 0 });
  const defaultEpoch = checkInteger(options.epoch ?? 0, 'epoch', { min: 0 });
  const prefetch = checkInteger(options.prefetch ?? 2, 'prefetch', { min: 0 });
  const shuffle = options.shuffle ?? false;
  const dropLast = options.dropLast ?? false;
  const normalize = options.normalize ?? true;
  const aug = options.augment || {};
  const inception = split.kind === 'files' && split.preprocessing === 'inception';
  const color = aug.colorDistortion ?? false;
  if (color !== false && color !== 'fast' && color !== 'full') {
    throw invalid('augment.colorDistortion', "'fast', 'full' or false", received(color));
  }
  if (color !== false && !inception) {
    throw new ValidationError(
      `augment.colorDistortion applies to image folders with Inception preprocessing (resolveDataset(..., { preprocessing: 'inception' })), not to split '${split.name}' of ${split.info.name}`,
    );
  }
  const augment = {
    crop: aug.crop ?? false,
    flip: aug.flip ?? false,
    cutout: cutoutSize(aug.cutout),
    padding: checkInteger(aug.padding ?? 4, 'augment.padding', { min: 0 }),
    scale: range('augment.scale', aug.scale, inception ? INCEPTION_CROP.area : [0.08, 1]),
    ratio: range('augment.ratio', aug.ratio, inception ? INCEPTION_CROP.aspect : [3 / 4, 4 / 3]),
    color,
  };
  const random = augment.crop || augment.flip || augment.cutout > 0 || augment.color !== false;
  const info = adaptInfo(split.info, options.outputChannels, options.outputSize);
  const size = split.size;
  const batchesPerEpoch = dropLast ? Math.floor(size / batchSize) : Math.ceil(size / batchSize);
  if (batchesPerEpoch === 0) {
    throw new ValidationError(
      `batchSize ${batchSize} with dropLast leaves no batch of the ${size} images of split '${split.name}'; expected batchSize <= ${size}`,
    );
  }
  const warn = options.onWarning ?? ((m: string) => process.stderr.write(`nasnet: ${m}\n`));
  const skipped = { count: 0, files: [] as string[] };
  const sampleSize = info.channels * info.height * info.width;

  const order = (e: number): Int32Array => {
    const a = Int32Array.from({ length: size }, (_, i) => i);
    return shuffle ? Rng.stream(seed, e, 0).shuffle(a) : a;
  };
  const positionsOf = (perm: Int32Array, b: number) => perm.subarray(b * batchSize, Math.min(size, (b + 1) * batchSize));

  let makeBatch: (e: number, perm: Int32Array, b: number, signal: { aborted: boolean }) => Promise<Batch | null>;
  let onEpochEnd: (e: number) => void = () => undefined;
  let closePool = async (): Promise<void> => undefined;

  if (split.kind === 'tensor') {
    const sampler = new TensorSampler(
      split.source,
      info,
      makeLuts(info.mean, info.std, normalize),
      split.resize,
      { crop: augment.crop, padding: augment.padding, flip: augment.flip, cutout: augment.cutout },
    );
    const ts: TensorSplit = split;
    makeBatch = (e, perm, b, signal) =>
      new Promise<void>((r) => setImmediate(r)).then(() => {
        if (signal.aborted) return null;
        const positions = Int32Array.from(positionsOf(perm, b));
        const n = positions.length;
        const images = new Float32Array(n * sampleSize);
        const labels = new Int32Array(n);
        const rng = random ? Rng.stream(seed, e, 1, b) : null;
        for (let k = 0; k < n; k++) {
          const pos = positions[k];
          sampler.write(ts.indices[pos], images, k * sampleSize, rng);
          labels[k] = ts.labels[pos];
        }
        return { images, labels, size: n, positions, index: b };
      });
  } else {
    const fs: FileSplit = split;
    if (info.height !== info.width) {
      throw new ValidationError(`Folder data sets are fed square images; ${info.name} has ${info.height}×${info.width}`);
    }
    if (info.channels !== 1 && info.channels !== 3) {
      throw new ValidationError(`Folder data sets are fed 1 or 3 channels; ${info.name} has ${info.channels}`);
    }
    const workers = checkInteger(options.workers ?? Math.max(1, Math.min(4, availableParallelism() - 1)), 'workers');
    const skipCorrupt = options.skipCorrupt ?? false;
    const bad = new Set<number>();
    const skippedInEpoch = new Map<number, number>();
    let pool: DecodePool | undefined;
    const getPool = () => {
      pool ??= new DecodePool(workers);
      return pool;
    };
    closePool = async () => {
      const p = pool;
      pool = undefined;
      await p?.close();
    };
    const S = info.height;
    // torchvision's RandomResizedCrop tries 10 boxes, TF's sample_distorted_bounding_box 100.
    const cropTries = inception ? INCEPTION_CROP.attempts : 10;
    const colorOptions: ColorOptions | null =
      augment.color === false ? null : { fast: augment.color === 'fast', ...INCEPTION_COLOR, saturation: [...INCEPTION_COLOR.saturation], contrast: [...INCEPTION_COLOR.contrast] };
    makeBatch = async (e, perm, b, signal) => {
      const positions = positionsOf(perm, b);
      const n = positions.length;
      const rng = random ? Rng.stream(seed, e, 1, b) : null;
      // Every random draw is made here, in image order, before any decoding starts.
      const draws = Array.from(positions, () => ({
        u: rng !== null && augment.crop ? Array.from({ length: 4 * cropTries }, () => rng.float()) : null,
        flip: rng !== null && augment.flip ? rng.uint32() >= 0x80000000 : false,
        color: rng !== null && colorOptions !== null ? Array.from({ length: COLOR_UNIFORMS }, () => rng.float()) : null,
        cut: rng !== null && augment.cutout > 0 ? [rng.int(S), rng.int(S)] : null,
      }));
      const p = getPool();
      // Each image is copied into the batch as soon as it arrives, so at most one batch of
      // floats per prefetched batch is held.
      const images = new Float32Array(n * sampleSize);
      const ok = await Promise.all(
        Array.from(positions, async (pos, k): Promise<boolean> => {
          const file = fs.files[pos];
          if (bad.has(pos)) return false;
          try {
            const data = await p.decode(
              {
                file,
                size: S,
                channels: info.channels as 1 | 3,
                mode: inception ? 'inception' : 'torchvision',
                train: augment.crop,
                scale: augment.scale,
                ratio: augment.ratio,
                minObjectCovered: INCEPTION_CROP.minObjectCovered,
                u: draws[k].u,
                flip: draws[k].flip,
                resizeSize: Math.max(fs.resizeSize, S),
                centralFraction: INCEPTION_CENTRAL_FRACTION,
                color: colorOptions !== null && draws[k].color !== null ? { options: colorOptions, u: draws[k].color! } : null,
                mean: info.mean,
                std: info.std,
                normalize,
              },
              signal,
            );
            images.set(data, k * sampleSize);
            const cut = draws[k].cut;
            if (cut !== null) applyCutout(images, k * sampleSize, info.channels, S, S, augment.cutout, cut[0], cut[1]);
            return true;
          } catch (err) {
            if (signal.aborted) return false;
            const why = (err as Error).message;
            if (!skipCorrupt) {
              throw new DataError(
                `${file} (image ${pos} of split '${fs.name}'): cannot decode (${why}); expected a JPEG or PNG image. Pass skipCorrupt to skip such images`,
              );
            }
            if (!bad.has(pos)) {
              bad.add(pos);
              skipped.count++;
              skipped.files.push(file);
              warn(`skipping undecodable image ${file} (image ${pos} of split '${fs.name}'): ${why}`);
            }
            return false;
          }
        }),
      );
      if (signal.aborted) return null;
      let m = 0;
      const labels = new Int32Array(n);
      const outPositions = new Int32Array(n);
      for (let k = 0; k < n; k++) {
        if (!ok[k]) continue;
        if (m !== k) images.copyWithin(m * sampleSize, k * sampleSize, (k + 1) * sampleSize);
        labels[m] = fs.labels[positions[k]];
        outPositions[m] = positions[k];
        m++;
      }
      if (m < n) skippedInEpoch.set(e, (skippedInEpoch.get(e) ?? 0) + (n - m));
      if (m === 0) return null;
      return m === n
        ? { images, labels, size: n, positions: outPositions, index: b }
        : { images: images.slice(0, m * sampleSize), labels: labels.slice(0, m), size: m, positions: outPositions.slice(0, m), index: b };
    };
    onEpochEnd = (e) => {
      const n = skippedInEpoch.get(e) ?? 0;
      skippedInEpoch.delete(e);
      if (n > 0) warn(`epoch ${e} of split '${fs.name}': skipped ${n} undecodable image(s) of ${size}`);
    };
  }

  async function* epoch(e: number = defaultEpoch, from = 0): AsyncGenerator<Batch, void, undefined> {
    checkInteger(e, 'epoch', { min: 0 });
    checkInteger(from, 'from', { min: 0, max: batchesPerEpoch });
    const perm = order(e);
    const signal = { aborted: false };
    const batches = prefetchOrdered(batchesPerEpoch - from, (k) => makeBatch(e, perm, from + k, signal), prefetch, () => {
      signal.aborted = true;
    });
    for await (const batch of batches) {
      if (batch !== null) yield batch;
    }
    onEpochEnd(e);
  }

  return {
    info,
    size,
    batchSize,
    batchesPerEpoch,
    skipped,
    epoch,
    close: () => closePool(),
  };
}
