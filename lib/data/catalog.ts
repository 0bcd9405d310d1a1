/**
 * The known data sets: shapes, classes, normalization constants, official files and checksums.
 * Normalization constants are the per-channel mean and standard deviation of each training set's
 * pixels on the [0, 1] scale (the values torchvision users quote); the Fashion-MNIST pair is
 * checked against the real data by test/data-fashion.test.ts.
 */
import type { RemoteFile } from './download.js';

/** Where Debian's `dataset-fashion-mnist` package puts the four gzipped IDX files. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** Per-channel mean and std on the [0, 1] scale. */
export interface Normalization {
  mean: number[];
  std: number[];
}

export const CIFAR10_NORMALIZATION: Normalization = {
  mean: [0.4914, 0.4822, 0.4465],
  std: [0.247, 0.2435, 0.2616],
};

export const CIFAR100_NORMALIZATION: Normalization = {
  mean: [0.5071, 0.4865, 0.4409],
  std: [0.2673, 0.2564, 0.2762],
};

export const FASHION_MNIST_NORMALIZATION: Normalization = { mean: [0.286], std: [0.353] };

export const MNIST_NORMALIZATION: Normalization = { mean: [0.1307], std: [0.3081] };

/** ImageNet's constants, also the default for other image folders. */
export const IMAGENET_NORMALIZATION: Normalization = {
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};

export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

export const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** The official CIFAR-10 binary archive (MD5 published on the CIFAR page). */
export const CIFAR10_REMOTE: RemoteFile[] = [
  {
    name: 'cifar-10-binary.tar.gz',
    urls: ['https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'],
    md5: 'c32a1d4ab5d03f1284b67883e8d87530',
  },
];

/** The official CIFAR-100 binary archive. */
export const CIFAR100_REMOTE: RemoteFile[] = [
  {
    name: 'cifar-100-binary.tar.gz',
    urls: ['https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz'],
    md5: '03b5dce01913d631647c71ecec9e9cb8',
  },
];

function idxRemote(bases: string[], files: [string, string][]): RemoteFile[] {
  return files.map(([name, md5]) => ({ name, urls: bases.map((b) => b + name), md5 }));
}

/** Fashion-MNIST's four files at Zalando's address (and its GitHub copy), with their published MD5s. */
export const FASHION_MNIST_REMOTE: RemoteFile[] = idxRemote(
  [
    'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
    'https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/',
  ],
  [
    ['train-images-idx3-ubyte.gz', '8d4fb7e6c68d591d4c3dfef9ec88bf0d'],
    ['train-labels-idx1-ubyte.gz', '25c81989df183df01b3e8a0aad5dffbe'],
    ['t10k-images-idx3-ubyte.gz', 'bef4ecab320f06d8554ea6380940ec79'],
    ['t10k-labels-idx1-ubyte.gz', 'bb300cfdad3c16e7a12a480ee83cd310'],
  ],
);

/** MNIST's four files (the mirror torchvision uses, then the original address), with their MD5s. */
export const MNIST_REMOTE: RemoteFile[] = idxRemote(
  ['https://ossci-datasets.s3.amazonaws.com/mnist/', 'http://yann.lecun.com/exdb/mnist/'],
  [
    ['train-images-idx3-ubyte.gz', 'f68b3c2dcbeaaa9fbdd348bbdeb94873'],
    ['train-labels-idx1-ubyte.gz', 'd53e105ee54ea40749a09fcbcd1e9432'],
    ['t10k-images-idx3-ubyte.gz', '9fb629c4189551a2d022fa330f9573f3'],
    ['t10k-labels-idx1-ubyte.gz', 'ec29112dd5afa0611ce80d1b7f02629c'],
  ],
);
