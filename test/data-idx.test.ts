import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  encodeIdx,
  MNIST_REMOTE,
  parseIdx,
  readIdxFile,
  readIdxFolder,
  readIdxPair,
  readMaybeGzip,
  resolveDataset,
} from '../lib/data/index.js';
import { DataError } from '../lib/errors.js';
import { fixturePixel, removeTempDirs, serve, tempDir, writeIdxSet } from './helpers/data-fixtures.js';

afterAll(removeTempDirs);

describe('IDX format', () => {
  it('parses the big-endian header and data of an images file', () => {
    const data = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
    const buf = encodeIdx([2, 3, 4], data);
    // Header bytes exactly as in the MNIST files: magic 0x00000803, then the sizes.
    expect([...buf.subarray(0, 16)]).toEqual([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4]);
    const arr = parseIdx(buf, 'x', 3);
    expect(arr.dims).toEqual([2, 3, 4]);
    expect([...arr.data]).toEqual([...data]);
  });

  it('reads gzipped and plain files alike', async () => {
    const dir = tempDir();
    const buf = encodeIdx([5], Uint8Array.from([1, 2, 3, 4, 9]));
    writeFileSync(join(dir, 'a-idx1-ubyte.gz'), gzipSync(buf));
    writeFileSync(join(dir, 'a-idx1-ubyte'), buf);
    const a = await readIdxFile(join(dir, 'a-idx1-ubyte.gz'), 1);
    const b = await readIdxFile(join(dir, 'a-idx1-ubyte'), 1);
    expect([...a.data]).toEqual([1, 2, 3, 4, 9]);
    expect([...b.data]).toEqual([1, 2, 3, 4, 9]);
  });

  it('names the file, the offset and the expected magic on a wrong magic number', () => {
    const labels = encodeIdx([3], Uint8Array.from([0, 1, 2]));
    expect(() => parseIdx(labels, 'train-images-idx3-ubyte.gz', 3)).toThrow(
      'train-images-idx3-ubyte.gz: wrong magic number 0x00000801 (unsigned byte, 1 dimensions) at offset 0; expected 0x00000803 (unsigned byte, 3 dimensions: images)',
    );
    expect(() => parseIdx(Buffer.from('GIF89a-not-idx'), 'f.gz', 1)).toThrow(
      'f.gz: wrong magic number 0x47494638 (not an IDX file) at offset 0; expected 0x00000801 (unsigned byte, 1 dimensions: labels)',
    );
    expect(() => parseIdx(Buffer.from([0, 0]), 'tiny', 1)).toThrow(DataError);
  });

  it('names the file and sizes on a truncated file', () => {
    const full = encodeIdx([2, 28, 28], new Uint8Array(2 * 784));
    const cut = full.subarray(0, full.length - 10);
    expect(() => parseIdx(cut, 'imgs', 3)).toThrow(
      'imgs: truncated: 1574 bytes, expected 1584 (16-byte header + 2×28×28 elements); data ends at offset 1574',
    );
    expect(() => parseIdx(full.subarray(0, 10), 'imgs', 3)).toThrow(
      'imgs: truncated header: 10 bytes, expected at least 16 (magic + 3 sizes)',
    );
  });

  it('names the file on a corrupt or truncated gzip stream', async () => {
    const dir = tempDir();
    const gz = gzipSync(encodeIdx([1000], new Uint8Array(1000).fill(3)));
    const file = join(dir, 'train-labels-idx1-ubyte.gz');
    writeFileSync(file, gz.subarray(0, gz.length - 12));
    await expect(readMaybeGzip(file)).rejects.toThrow(
      `${file}: the gzip stream is corrupt or truncated (unexpected end of file)`,
    );
    await expect(readMaybeGzip(join(dir, 'missing.gz'))).rejects.toThrow(`${join(dir, 'missing.gz')}: cannot read (ENOENT)`);
  });

  it('pairs images with labels and checks counts and label range', async () => {
    const dir = tempDir();
    writeIdxSet(dir, 30, 10);
    const src = await readIdxPair(join(dir, 'train-images-idx3-ubyte.gz'), join(dir, 'train-labels-idx1-ubyte.gz'), 10);
    expect(src).toMatchObject({ count: 30, channels: 1, height: 28, width: 28 });
    expect(src.labels[17]).toBe(7);
    expect(src.images[17 * 784]).toBe(fixturePixel(17, 0));
    // Labels of another length.
    await expect(readIdxPair(join(dir, 'train-images-idx3-ubyte.gz'), join(dir, 't10k-labels-idx1-ubyte.gz'), 10)).rejects.toThrow(
      `${join(dir, 't10k-labels-idx1-ubyte.gz')}: holds 10 labels but ${join(dir, 'train-images-idx3-ubyte.gz')} holds 30 images; expected equal counts`,
    );
    // A label out of range.
    const bad = join(dir, 'bad-labels-idx1-ubyte');
    writeFileSync(bad, encodeIdx([30], Uint8Array.from({ length: 30 }, (_, i) => (i === 12 ? 10 : 0))));
    await expect(readIdxPair(join(dir, 'train-images-idx3-ubyte.gz'), bad, 10)).rejects.toThrow(
      `${bad}: label 10 at index 12 (offset 20) is out of range; expected 0..9`,
    );
  });

  it('lists the missing files of a folder', async () => {
    const dir = tempDir();
    writeIdxSet(dir, 5, 5);
    const { train, test } = await readIdxFolder(dir, 10);
    expect(train.count).toBe(5);
    expect(test.count).toBe(5);
    const empty = tempDir();
    await expect(readIdxFolder(empty, 10)).rejects.toThrow(
      `${empty}: missing train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (gzipped or not); expected the four IDX files of the data set`,
    );
  });
});

describe('MNIST-style sets by name', () => {
  it('downloads the four gzipped IDX files on demand (local server), verified, then reads them', async () => {
    const files = writeIdxSet(tempDir(), 120, 30);
    const routes = Object.fromEntries(Object.entries(files).map(([name, bytes]) => [`/mnist/${name}`, bytes]));
    const server = await serve(routes);
    try {
      const remote = MNIST_REMOTE.map((r) => ({
        ...r,
        urls: [`${server.base}mnist/${r.name}`],
        md5: createHash('md5').update(files[r.name]).digest('hex'),
      }));
      const dir = tempDir();
      const ds = await resolveDataset('mnist', { dataDir: dir, remote, validationSize: 20, progress: false });
      expect(ds.location).toBe(join(dir, 'mnist'));
      expect(server.hits.sort()).toEqual(Object.keys(routes).sort());
      expect([ds.train.size, ds.validation.size, ds.test.size]).toEqual([100, 20, 30]);
      expect(ds.info).toMatchObject({ name: 'mnist', channels: 1, height: 28, width: 28, classes: 10, mean: [0.1307], std: [0.3081] });
      // A second resolve reads the cached files.
      await resolveDataset('mnist', { dataDir: dir, remote, validationSize: 20 });
      expect(server.hits.length).toBe(4);
    } finally {
      await server.close();
    }
  });

  it('says where it looked and how to get the files when downloading is off', async () => {
    const dir = tempDir();
    await expect(resolveDataset('fashion-mnist', { dataDir: dir, download: false })).rejects.toThrow(
      `fashion-mnist: the four IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) are not in ${dir}, ${join(dir, 'fashion-mnist')}, and downloading is off; expected them from http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/ (or \`apt-get install dataset-fashion-mnist\`)`,
    );
  });
});
