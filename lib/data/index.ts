/** The data layer's public API: data sets by name, splits, loaders, and the format readers. */
export { adaptInfo, LUMA } from './adapt.js';
export * from './catalog.js';
export {
  CIFAR10_LAYOUT,
  CIFAR100_LAYOUT,
  type CifarLayout,
  parseCifarRecords,
  readCifarArchive,
  readCifarFolder,
} from './cifar.js';
export { type ColorOptions, DecodePool, type DecodeTask } from './decode-pool.js';
export { type DownloadOptions, dataCacheDir, downloadFile, ensureFile, type RemoteFile } from './download.js';
export { IMAGE_EXTENSIONS, readLabelsFile, scanClassFolders, scanSplitFolder } from './folder.js';
export { readMaybeGzip } from './gzip.js';
export { encodeIdx, type IdxArray, parseIdx, readIdxFile } from './idx.js';
export {
  COLOR_UNIFORMS,
  type ColorDistortion,
  INCEPTION_CENTRAL_FRACTION,
  INCEPTION_COLOR,
  INCEPTION_CROP,
  INCEPTION_NORMALIZATION,
} from './inception.js';
export { createLoader, type Loader, type LoaderOptions } from './loader.js';
export { IDX_FILES, readIdxFolder, readIdxPair } from './mnist.js';
export {
  DATASET_NAMES,
  type DatasetDescription,
  listDatasets,
  miniFashionDir,
  type ResolveOptions,
  resolveDataset,
} from './registry.js';
export { DEFAULT_SPLIT_SEED, splitTrainValidation, tensorSplit } from './split.js';
export type {
  AugmentOptions,
  Batch,
  Dataset,
  DatasetInfo,
  FileSplit,
  FolderPreprocessing,
  ResizeMode,
  Split,
  TensorSource,
  TensorSplit,
} from './types.js';
