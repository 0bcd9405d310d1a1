/**
 * Data sets by name: `cifar10`, `cifar100`, `fashion-mnist`, `fashion-mnist-mini` (embedded, no
 * network), `mnist`, `imagenet`, `folder:PATH`. {@link resolveDataset} finds (or downloads) the
 * files and returns the data set's info and its train / validation / test splits, so the CLI and
 * the search take `--dataset NAME` and `--data DIR`.
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { DataError, ValidationError } from '../errors.js';
import { checkChoice, checkInteger } from '../util/check.js';
import { packageRoot } from '../util/package-root.js';
import { adaptInfo } from './adapt.js';
import {
  CIFAR10_CLASSES,
  CIFAR10_NORMALIZATION,
  CIFAR10_REMOTE,
  CIFAR100_NORMALIZATION,
  CIFAR100_REMOTE,
  DEBIAN_FASHION_MNIST_DIR,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_NORMALIZATION,
  FASHION_MNIST_REMOTE,
  IMAGENET_NORMALIZATION,
  MNIST_CLASSES,
  MNIST_NORMALIZATION,
  MNIST_REMOTE,
  type Normalization,
} from './catalog.js';
import { CIFAR10_LAYOUT, CIFAR100_LAYOUT, type CifarLayout, findCifarFolder, readCifarArchive, readCifarFolder } from './cifar.js';
import { type DownloadOptions, dataCacheDir, ensureFile, type RemoteFile } from './download.js';
import { scanClassFolders, scanSplitFolder } from './folder.js';
import { INCEPTION_NORMALIZATION } from './inception.js';
import { findIdxFile, IDX_FILES, readIdxFolder } from './mnist.js';
import { DEFAULT_SPLIT_SEED, splitTrainValidation, tensorSplit } from './split.js';
import type { AugmentOptions, Dataset, DatasetInfo, FileSplit, FolderPreprocessing, ResizeMode, TensorSource } from './types.js';

/** Options of {@link resolveDataset}. */
export interface ResolveOptions {
  /** Folder holding the data (`--data DIR`): the files themselves or a `<name>/` folder of them. Default: the cache ({@link dataCacheDir}). */
  dataDir?: string;
  /** Download missing files from the official addresses; default true. */
  download?: boolean;
  /** Replace the official files (e.g. a mirror or a test server): matched by file name. */
  remote?: RemoteFile[];
  /** Progress bar while downloading; default true. */
  progress?: boolean;
  /** Channels fed to the network (1 or 3); default the data set's own. */
  channels?: 1 | 3;
  /** Square image side fed to the network. In-memory sets: adapted from the native size (see `resize`); folder sets: crop size, default 224. */
  size?: number;
  /** In-memory sets: how a different `size` is reached; default `'pad'` (zero padding, e.g. 28 → 32). */
  resize?: ResizeMode;
  /** Folder sets: evaluation resize of the shorter side; default round(size / 0.875) (256 for 224, 378 for 331). */
  resizeSize?: number;
  /** Images held out of the training set for validation; default 5,000 (500 for `fashion-mnist-mini`; 10% for a folder without a validation folder). */
  validationSize?: number;
  /** Seed of the train/validation split; default 0. */
  splitSeed?: number;
  /** Folder sets: labels file of a flat validation folder. */
  labelsFile?: string;
  /** Folder sets: normalization; default ImageNet's (Inception's [-1, 1] scaling with `preprocessing: 'inception'`). */
  normalization?: Normalization;
  /**
   * Folder sets: `'torchvision'` (default) or `'inception'`, TF-slim's Inception preprocessing (crop,
   * colour distortion, [-1, 1], central-crop evaluation: the ImageNet recipes'); see {@link FolderPreprocessing}.
   */
  preprocessing?: FolderPreprocessing;
}

/** A registry entry, for listings (`nasnet datasets`, `--help`). */
export interface DatasetDescription {
  name: string;
  description: string;
  channels: number;
  height: number;
  width: number;
  /** 0 when read from the folder. */
  classes: number;
}

/** The registered names (plus `folder:PATH`). */
export const DATASET_NAMES = ['cifar10', 'cifar100', 'fashion-mnist', 'fashion-mnist-mini', 'mnist', 'imagenet'] as const;

/**
 * Every registered data set with its native shape.
 * @example
 * listDatasets().map((d) => d.name); // ['cifar10', 'cifar100', ...]
 */
export function listDatasets(): DatasetDescription[] {
  return [
    { name: 'cifar10', description: 'CIFAR-10, 50,000 train (45,000/5,000 split) + 10,000 test, 32×32 RGB', channels: 3, height: 32, width: 32, classes: 10 },
    { name: 'cifar100', description: 'CIFAR-100 (fine labels), 50,000 train + 10,000 test, 32×32 RGB', channels: 3, height: 32, width: 32, classes: 100 },
    { name: 'fashion-mnist', description: 'Fashion-MNIST, 60,000 train (55,000/5,000) + 10,000 test, 28×28 gray', channels: 1, height: 28, width: 28, classes: 10 },
    { name: 'fashion-mnist-mini', description: 'Embedded Fashion-MNIST subset, 3,000 train (2,500/500) + 1,000 test, no download', channels: 1, height: 28, width: 28, classes: 10 },
    { name: 'mnist', description: 'MNIST digits, 60,000 train (55,000/5,000) + 10,000 test, 28×28 gray', channels: 1, height: 28, width: 28, classes: 10 },
    { name: 'imagenet', description: 'ImageNet folders (train/<class>/*.JPEG, val/), 224 crops', channels: 3, height: 224, width: 224, classes: 1000 },
    { name: 'folder:PATH', description: 'Any image folder in ImageNet layout', channels: 3, height: 224, width: 224, classes: 0 },
  ];
}

/** The folder of the embedded mini Fashion-MNIST. */
export function miniFashionDir(): string {
  return join(packageRoot(), 'data', 'fashion-mnist-mini');
}

interface MemorySpec {
  name: string;
  classes: number;
  classNames?: string[];
  norm: Normalization;
  validationSize: number;
  augment: AugmentOptions;
}

function memoryDataset(
  spec: MemorySpec,
  src: { train: TensorSource; test: TensorSource },
  location: string,
  opts: ResolveOptions,
): Dataset {
  const native: DatasetInfo = {
    name: spec.name,
    channels: src.train.channels,
    height: src.train.height,
    width: src.train.width,
    classes: spec.classes,
    mean: spec.norm.mean,
    std: spec.norm.std,
    ...(spec.classNames ? { classNames: spec.classNames } : {}),
  };
  if (opts.preprocessing !== undefined && opts.preprocessing !== 'torchvision') {
    throw new ValidationError(`preprocessing '${opts.preprocessing}' applies to image folders; ${spec.name} is held in memory (its augmentation: pad-4 crop and flip)`);
  }
  const info = adaptInfo(native, opts.channels, opts.size);
  const resize = opts.resize ?? 'pad';
  const { train, validation } = splitTrainValidation(
    src.train.labels,
    spec.classes,
    opts.validationSize ?? spec.validationSize,
    opts.splitSeed ?? DEFAULT_SPLIT_SEED,
  );
  return {
    info,
    train: tensorSplit('train', src.train, train, info, resize),
    validation: tensorSplit('validation', src.train, validation, info, resize),
    test: tensorSplit('test', src.test, undefined, info, resize),
    defaultAugment: spec.augment,
    location,
  };
}

function remoteFor(official: RemoteFile[], opts: ResolveOptions): RemoteFile[] {
  return official.map((r) => opts.remote?.find((o) => o.name === r.name) ?? r);
}

function searchDirs(name: string, opts: ResolveOptions, extra: string[] = []): { dirs: string[]; target: string } {
  if (opts.dataDir !== undefined) {
    const d = resolve(opts.dataDir);
    return { dirs: [d, join(d, name)], target: join(d, name) };
  }
  const cache = join(dataCacheDir(), name);
  return { dirs: [...extra, cache], target: cache };
}

function downloadOpts(opts: ResolveOptions): DownloadOptions {
  return { progress: opts.progress ?? true };
}

async function loadCifar(name: string, layout: CifarLayout, remote: RemoteFile[], opts: ResolveOptions) {
  const { dirs, target } = searchDirs(name, opts);
  for (const d of dirs) {
    const folder = findCifarFolder(d, layout);
    if (folder !== undefined) return { src: await readCifarFolder(folder, layout), location: folder };
    const archive = join(d, layout.archive);
    if (existsSync(archive)) return { src: await readCifarArchive(archive, layout), location: archive };
  }
  const [file] = remoteFor(remote, opts);
  if (opts.download === false) {
    throw new DataError(
      `${name}: no ${layout.folder}/ folder or ${layout.archive} in ${dirs.join(', ')}, and downloading is off; expected ${layout.archive} from ${file.urls[0]}`,
    );
  }
  const archive = await ensureFile(file, target, true, downloadOpts(opts));
  return { src: await readCifarArchive(archive, layout), location: archive };
}

async function loadIdx(name: string, remote: RemoteFile[], opts: ResolveOptions, extra: string[] = []) {
  const { dirs, target } = searchDirs(name, opts, extra);
  for (const d of dirs) {
    if (Object.values(IDX_FILES).every((f) => findIdxFile(d, f) !== undefined)) {
      return { src: await readIdxFolder(d, 10), location: d };
    }
  }
  const files = remoteFor(remote, opts);
  if (opts.download === false) {
    const hint = name === 'fashion-mnist' ? ' (or `apt-get install dataset-fashion-mnist`)' : '';
    throw new DataError(
      `${name}: the four IDX files (${Object.values(IDX_FILES).join(', ')}) are not in ${dirs.join(', ')}, and downloading is off; expected them from ${files[0].urls[0].replace(/[^/]*$/, '')}${hint}`,
    );
  }
  for (const f of files) await ensureFile(f, target, true, downloadOpts(opts));
  return { src: await readIdxFolder(target, 10), location: target };
}

async function loadFolder(name: string, root: string, opts: ResolveOptions, defaults: Normalization): Promise<Dataset> {
  const size = opts.size ?? 224;
  checkInteger(size, 'size');
  const resizeSize = opts.resizeSize ?? Math.round(size / 0.875);
  const preprocessing = checkChoice(opts.preprocessing ?? 'torchvision', 'preprocessing', ['torchvision', 'inception'] as const);
  const inception = preprocessing === 'inception';
  const norm = opts.normalization ?? (inception ? INCEPTION_NORMALIZATION : defaults);
  const trainDir = existsSync(join(root, 'train')) ? join(root, 'train') : undefined;
  const scanned = await scanClassFolders(trainDir ?? root);
  const classNames = scanned.classNames;
  const native: DatasetInfo = {
    name,
    channels: 3,
    height: size,
    width: size,
    classes: classNames.length,
    mean: norm.mean,
    std: norm.std,
    classNames,
  };
  const info = adaptInfo(native, opts.channels);
  const mk = (split: string, files: string[], labels: Int32Array): FileSplit => ({
    kind: 'files',
    name: split,
    size: files.length,
    info,
    files,
    labels,
    resizeSize,
    preprocessing,
  });
  const valDir = ['val', 'validation'].map((d) => join(root, d)).find((d) => existsSync(d));
  let train: FileSplit;
  let validation: FileSplit;
  if (trainDir !== undefined && valDir !== undefined) {
    train = mk('train', scanned.files, scanned.labels);
    const v = await scanSplitFolder(valDir, classNames, opts.labelsFile);
    validation = mk('validation', v.files, v.labels);
  } else {
    const n = scanned.files.length;
    const held = opts.validationSize ?? Math.max(1, Math.round(n / 10));
    const s = splitTrainValidation(scanned.labels, classNames.length, held, opts.splitSeed ?? DEFAULT_SPLIT_SEED);
    const pick = (idx: Int32Array) => ({ files: Array.from(idx, (i) => scanned.files[i]), labels: Int32Array.from(idx, (i) => scanned.labels[i]) });
    const t = pick(s.train);
    const v = pick(s.validation);
    train = mk('train', t.files, t.labels);
    validation = mk('validation', v.files, v.labels);
  }
  const testDir = join(root, 'test');
  let test = validation;
  if (trainDir !== undefined && existsSync(testDir)) {
    const t = await scanSplitFolder(testDir, classNames);
    test = mk('test', t.files, t.labels);
  }
  const defaultAugment: AugmentOptions = inception ? { crop: true, flip: true, colorDistortion: 'fast' } : { crop: true, flip: true };
  return { info, train, validation, test, defaultAugment, location: root };
}

/**
 * Resolve a data set by name: find its files (or download them), read and split it.
 *
 * Where files are looked for: with `dataDir`, in `dataDir` and `dataDir/<name>` (downloads go to
 * `dataDir/<name>`); without, for `fashion-mnist` first in Debian's
 * `/usr/share/datasets/fashion-mnist`, then in the cache `$NASNET_DATA/<name>` (default
 * `~/.cache/nasnet/data/<name>`), where downloads go. CIFAR is read from its `.bin` folder or
 * straight from the official `.tar.gz`.
 *
 * @param spec - `cifar10`, `cifar100`, `fashion-mnist`, `fashion-mnist-mini`, `mnist`, `imagenet` or `folder:PATH`.
 * @param options - data folder, download, channel/size adaptation, split size and seed; see {@link ResolveOptions}.
 * @returns the info (fed shape, classes, mean/std) and the train, validation and test splits.
 * @throws ValidationError on an unknown name; DataError when the data cannot be found or read.
 * @example
 * const ds = await resolveDataset('fashion-mnist-mini', { channels: 3, size: 32 });
 * ds.info; // { name: 'fashion-mnist-mini', channels: 3, height: 32, width: 32, classes: 10, ... }
 * ds.train.size; // 2500
 */
export async function resolveDataset(spec: string, options: ResolveOptions = {}): Promise<Dataset> {
  const opts = options;
  if (opts.dataDir !== undefined && existsSync(opts.dataDir) && !statSync(opts.dataDir).isDirectory()) {
    throw new DataError(`data folder ${opts.dataDir} is a file, not a folder (--data names the folder that holds the data sets)`);
  }
  switch (spec) {
    case 'cifar10': {
      const { src, location } = await loadCifar(spec, CIFAR10_LAYOUT, CIFAR10_REMOTE, opts);
      const m = { name: spec, classes: 10, classNames: CIFAR10_CLASSES, norm: CIFAR10_NORMALIZATION, validationSize: 5000, augment: { crop: true, flip: true } };
      return memoryDataset(m, src, location, opts);
    }
    case 'cifar100': {
      const { src, location } = await loadCifar(spec, CIFAR100_LAYOUT, CIFAR100_REMOTE, opts);
      const m = { name: spec, classes: 100, norm: CIFAR100_NORMALIZATION, validationSize: 5000, augment: { crop: true, flip: true } };
      return memoryDataset(m, src, location, opts);
    }
    case 'fashion-mnist':
    case 'mnist': {
      const fashion = spec === 'fashion-mnist';
      const extra = fashion && opts.dataDir === undefined ? [DEBIAN_FASHION_MNIST_DIR] : [];
      const { src, location } = await loadIdx(spec, fashion ? FASHION_MNIST_REMOTE : MNIST_REMOTE, opts, extra);
      const m = fashion
        ? { name: spec, classes: 10, classNames: FASHION_MNIST_CLASSES, norm: FASHION_MNIST_NORMALIZATION, validationSize: 5000, augment: { crop: true, flip: true } }
        : { name: spec, classes: 10, classNames: MNIST_CLASSES, norm: MNIST_NORMALIZATION, validationSize: 5000, augment: { crop: true } };
      return memoryDataset(m, src, location, opts);
    }
    case 'fashion-mnist-mini': {
      const dir = miniFashionDir();
      if (!existsSync(dir)) throw new DataError(`${dir}: the embedded mini Fashion-MNIST is missing; expected it in the package's data/ folder`);
      const src = await readIdxFolder(dir, 10);
      const m = { name: spec, classes: 10, classNames: FASHION_MNIST_CLASSES, norm: FASHION_MNIST_NORMALIZATION, validationSize: 500, augment: { crop: true, flip: true } };
      return memoryDataset(m, src, dir, opts);
    }
    case 'imagenet': {
      const base = opts.dataDir !== undefined ? resolve(opts.dataDir) : dataCacheDir();
      const root = existsSync(join(base, 'train')) ? base : join(base, 'imagenet');
      if (!existsSync(join(root, 'train'))) {
        throw new DataError(
          `${join(root, 'train')}: folder not found; ImageNet cannot be downloaded automatically: get ILSVRC2012 from image-net.org and lay it out as ${root}/train/<wnid>/*.JPEG and ${root}/val/<wnid>/*.JPEG (or val/ with a labels file), then pass --data ${root}`,
        );
      }
      return loadFolder(spec, root, opts, IMAGENET_NORMALIZATION);
    }
    default: {
      if (spec.startsWith('folder:')) {
        const path = spec.slice('folder:'.length);
        if (path === '') throw new ValidationError(`Expected folder:PATH but received '${spec}' (empty path)`);
        const root = isAbsolute(path) ? path : resolve(path);
        if (!existsSync(root)) throw new DataError(`${root}: folder not found; expected ROOT/<class>/*.jpg or ROOT/train/<class>/*.jpg`);
        return loadFolder(spec, root, opts, IMAGENET_NORMALIZATION);
      }
      throw new ValidationError(`Unknown data set '${spec}'; expected one of ${DATASET_NAMES.join(', ')} or folder:PATH`);
    }
  }
}
