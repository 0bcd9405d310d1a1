/**
 * The data layer's shapes: what a data set is, what a split holds, and what a batch looks like.
 * Images are float32 NCHW, labels int32 [N], exactly as the engine takes them.
 */
import type { ColorDistortion } from './inception.js';

/**
 * What a network fed by a data set sees: the shape *after* any channel or size adaptation
 * (e.g. Fashion-MNIST repeated to 3 channels and padded to 32×32 reads `channels: 3, height: 32`).
 */
export interface DatasetInfo {
  /** Registry name, e.g. `cifar10`, `fashion-mnist`, `folder:/data/birds`. */
  name: string;
  /** Channels fed to the network (1 or 3). */
  channels: number;
  /** Image height fed to the network. */
  height: number;
  /** Image width fed to the network. */
  width: number;
  /** Number of classes; labels are in [0, classes). */
  classes: number;
  /** Per-channel mean (on the [0, 1] pixel scale), one per fed channel. */
  mean: number[];
  /** Per-channel standard deviation (on the [0, 1] pixel scale), one per fed channel. */
  std: number[];
  /** Class names in label order, where known. */
  classNames?: string[];
}

/** How a grayscale or small image is brought to a larger size: zero padding around it, or bilinear resize. */
export type ResizeMode = 'pad' | 'bilinear';

/**
 * Images held in memory as uint8, planar per image (C×H×W, the CIFAR binary layout): CIFAR,
 * Fashion-MNIST, MNIST. Train and validation splits share one source and differ by `indices`.
 */
export interface TensorSource {
  /** `count × channels × height × width` bytes. */
  images: Uint8Array;
  /** One label per image. */
  labels: Int32Array;
  count: number;
  channels: number;
  height: number;
  width: number;
}

/** A split of an in-memory data set. */
export interface TensorSplit {
  kind: 'tensor';
  /** `train`, `validation` or `test`. */
  name: string;
  /** Number of images in the split. */
  size: number;
  /** The fed shape (after adaptation) and normalization. */
  info: DatasetInfo;
  source: TensorSource;
  /** Image index into `source` for each position of the split. */
  indices: Int32Array;
  /** Label of each position of the split. */
  labels: Int32Array;
  /** How the source is brought to `info.height × info.width` when the sizes differ. */
  resize: ResizeMode;
}

/**
 * How an image folder is prepared. `'torchvision'`: training takes a random-resized crop (area
 * `scale`, aspect `ratio`, torchvision's RandomResizedCrop) and evaluation resizes the shorter side
 * to `resizeSize` and cuts the center. `'inception'`: TF-slim's `inception_preprocessing` (a
 * `sample_distorted_bounding_box` crop, TF's bilinear resize, colour distortion, values in [-1, 1];
 * evaluation takes the central 87.5% resized to the output size): see `lib/data/inception.mjs`.
 */
export type FolderPreprocessing = 'torchvision' | 'inception';

/** A split of an image-folder data set: files decoded on demand by worker threads. */
export interface FileSplit {
  kind: 'files';
  name: string;
  size: number;
  info: DatasetInfo;
  /** Absolute path of each image. */
  files: string[];
  labels: Int32Array;
  /** Evaluation: the shorter side is resized to this, then the center `info.height` square is cut (256 for 224). */
  resizeSize: number;
  /** Default 'torchvision'. */
  preprocessing?: FolderPreprocessing;
}

/** Any split; `createLoader` takes either kind. */
export type Split = TensorSplit | FileSplit;

/** Training augmentation; every field is off when absent. */
export interface AugmentOptions {
  /**
   * Random crop. In-memory sets: pad by `padding` and crop back to size (CIFAR's pad-4 crop).
   * Folder sets: Inception-style random-resized crop (area `scale`, aspect `ratio`); when off,
   * folder sets resize the shorter side to `resizeSize` and cut the center.
   */
  crop?: boolean;
  /** Random horizontal flip with probability 1/2. */
  flip?: boolean;
  /** Cutout square side in pixels (`true` = 16); the square is zeroed after normalization. */
  cutout?: number | boolean;
  /** Zero padding for the in-memory random crop; default 4. */
  padding?: number;
  /** Random-resized crop area range, fraction of the image; default [0.08, 1] ([0.05, 1] with Inception preprocessing). */
  scale?: [number, number];
  /** Random-resized crop aspect ratio range; default [3/4, 4/3] ([0.75, 1.33] with Inception preprocessing). */
  ratio?: [number, number];
  /**
   * Folder sets with Inception preprocessing: TF-slim's colour distortion, `'fast'` (brightness,
   * saturation: slim's default) or `'full'` (also hue and contrast, in one of four orders).
   */
  colorDistortion?: ColorDistortion | false;
}

/** One batch, as the engine takes it. */
export interface Batch {
  /** `size × C × H × W` floats, NCHW. */
  images: Float32Array;
  /** `size` labels. */
  labels: Int32Array;
  /** Number of images in this batch (the last one can be smaller; skipped images make it smaller too). */
  size: number;
  /** Position within the split of each image (for checks and debugging). */
  positions: Int32Array;
  /** Batch index within the epoch. */
  index: number;
}

/** A data set with its three splits, as the registry resolves it. */
export interface Dataset {
  info: DatasetInfo;
  train: Split;
  validation: Split;
  /** The test split; folder sets without a test folder use their validation folder here. */
  test: Split;
  /** Augmentation the paper's training used for this data set (what `--augment` turns on). */
  defaultAugment: AugmentOptions;
  /** Where the data came from (a folder, an archive, the embedded copy). */
  location: string;
}
