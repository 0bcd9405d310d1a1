import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CIFAR10_LAYOUT,
  CIFAR10_REMOTE,
  CIFAR100_LAYOUT,
  downloadFile,
  parseCifarRecords,
  readCifarArchive,
  readCifarFolder,
  resolveDataset,
  splitTrainValidation,
} from '../lib/data/index.js';
import { DataError } from '../lib/errors.js';
import { cifarRecords, type FixtureServer, fixturePixel, removeTempDirs, serve, tempDir, writeCifar10, writeCifar100 } from './helpers/data-fixtures.js';

afterAll(removeTempDirs);

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('CIFAR binary records', () => {
  it('reads the label byte and the planar R, G, B pixels', () => {
    const src = parseCifarRecords([{ file: 'a.bin', bytes: cifarRecords(40, 3, 1, (n) => n % 10) }], CIFAR10_LAYOUT);
    expect(src).toMatchObject({ count: 3, channels: 3, height: 32, width: 32 });
    expect([...src.labels]).toEqual([0, 1, 2]);
    // Image 1 is fixture image 41; its red plane starts at 3072, its blue plane at 3072 + 2048.
    expect(src.images[3072]).toBe(fixturePixel(41, 0));
    expect(src.images[3072 + 2048 + 5]).toBe(fixturePixel(41, 2048 + 5));
  });

  it('uses the fine (second) label byte of CIFAR-100', () => {
    const src = parseCifarRecords([{ file: 'train.bin', bytes: cifarRecords(0, 4, 2, (n) => 97 - n) }], CIFAR100_LAYOUT);
    expect([...src.labels]).toEqual([97, 96, 95, 94]);
    expect(src.images[0]).toBe(fixturePixel(0, 0));
  });

  it('names the file, record and offset of a truncated file', () => {
    const bytes = cifarRecords(0, 3, 1, () => 0).subarray(0, 3 * 3073 - 100);
    expect(() => parseCifarRecords([{ file: 'data_batch_2.bin', bytes }], CIFAR10_LAYOUT)).toThrow(
      'data_batch_2.bin: 9119 bytes is not a whole number of 3073-byte records (1 label byte + 3072 pixels); truncated in record 2 at offset 6146',
    );
    const two = cifarRecords(0, 2, 2, () => 0).subarray(0, 3074 + 10);
    expect(() => parseCifarRecords([{ file: 'train.bin', bytes: two }], CIFAR100_LAYOUT)).toThrow(
      'train.bin: 3084 bytes is not a whole number of 3074-byte records (2 label bytes + 3072 pixels); truncated in record 1 at offset 3074',
    );
  });

  it('names the file, record and offset of an out-of-range label', () => {
    const bytes = cifarRecords(0, 3, 1, (n) => (n === 2 ? 12 : 1));
    expect(() => parseCifarRecords([{ file: 'test_batch.bin', bytes }], CIFAR10_LAYOUT)).toThrow(
      'test_batch.bin: record 2 (offset 6146) has label 12; expected 0..9',
    );
  });
});

describe('CIFAR from a folder and from the official .tar.gz', () => {
  let root: string;
  let archive: string;
  beforeAll(async () => {
    root = tempDir();
    ({ archive } = await writeCifar10(root, 20));
  });

  it('gives the same images and labels from the folder and from the archive', async () => {
    const a = await readCifarFolder(root, CIFAR10_LAYOUT);
    const b = await readCifarArchive(archive, CIFAR10_LAYOUT);
    expect(a.train.count).toBe(100);
    expect(a.test.count).toBe(20);
    expect(Buffer.from(b.train.images).equals(Buffer.from(a.train.images))).toBe(true);
    expect([...b.train.labels]).toEqual([...a.train.labels]);
    // Batches are concatenated in order: image 57 is in data_batch_3.
    expect(a.train.images[57 * 3072]).toBe(fixturePixel(57, 0));
    expect(a.test.images[3 * 3072]).toBe(fixturePixel(1003, 0));
  });

  it('names the archive on a truncated .tar.gz', async () => {
    const cut = join(tempDir(), 'cifar-10-binary.tar.gz');
    const bytes = readFileSync(archive);
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expect(readCifarArchive(cut, CIFAR10_LAYOUT)).rejects.toThrow(
      `${cut}: corrupt or truncated archive (zlib: unexpected end of file); expected a complete cifar-10-binary.tar.gz`,
    );
  });

  it('names the members an archive lacks', async () => {
    const other = tempDir();
    const { archive: a100 } = await writeCifar100(other, 10, 10);
    await expect(readCifarArchive(a100, CIFAR10_LAYOUT)).rejects.toThrow(
      `${a100}: archive lacks cifar-10-batches-bin/data_batch_1.bin, cifar-10-batches-bin/data_batch_2.bin`,
    );
  });

  it('lists the missing .bin files of a folder', async () => {
    const empty = tempDir();
    await expect(readCifarFolder(empty, CIFAR100_LAYOUT)).rejects.toThrow(
      `${empty}: missing train.bin, test.bin; expected the CIFAR binary files in it or in cifar-100-binary/`,
    );
  });

  it('resolves cifar10 from --data DIR holding only the archive, with a seeded stratified split', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'cifar-10-binary.tar.gz'), readFileSync(archive));
    const ds = await resolveDataset('cifar10', { dataDir: dir, download: false, validationSize: 20 });
    expect(ds.location).toBe(join(dir, 'cifar-10-binary.tar.gz'));
    expect(ds.info).toMatchObject({ name: 'cifar10', channels: 3, height: 32, width: 32, classes: 10 });
    expect(ds.info.classNames?.[0]).toBe('airplane');
    expect([ds.train.size, ds.validation.size, ds.test.size]).toEqual([80, 20, 20]);
    // 2 per class in validation; train and validation partition the 100 training images.
    const hist = new Array(10).fill(0);
    for (const l of ds.validation.labels) hist[l]++;
    expect(hist).toEqual(new Array(10).fill(2));
    if (ds.train.kind !== 'tensor' || ds.validation.kind !== 'tensor') throw new Error('expected in-memory splits');
    const all = [...ds.train.indices, ...ds.validation.indices].sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('resolves cifar100 from the folder (fine labels)', async () => {
    const dir = tempDir();
    await writeCifar100(dir, 200, 50);
    const ds = await resolveDataset('cifar100', { dataDir: dir, download: false, validationSize: 100 });
    expect(ds.info.classes).toBe(100);
    expect(ds.location).toBe(join(dir, 'cifar-100-binary'));
    expect([ds.train.size, ds.validation.size, ds.test.size]).toEqual([100, 100, 50]);
  });

  it('says where it looked when the data is absent and downloading is off', async () => {
    const dir = tempDir();
    await expect(resolveDataset('cifar10', { dataDir: dir, download: false })).rejects.toThrow(
      `cifar10: no cifar-10-batches-bin/ folder or cifar-10-binary.tar.gz in ${dir}, ${join(dir, 'cifar10')}, and downloading is off; expected cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz`,
    );
  });
});

describe('the paper split', () => {
  it('splits 50,000 CIFAR training labels 45,000/5,000, 500 per class, the same every time', () => {
    const labels = Int32Array.from({ length: 50000 }, (_, i) => (i * 7) % 10);
    const a = splitTrainValidation(labels, 10, 5000);
    const b = splitTrainValidation(labels, 10, 5000);
    expect(a.train.length).toBe(45000);
    expect(a.validation.length).toBe(5000);
    expect([...a.validation]).toEqual([...b.validation]);
    const hist = new Array(10).fill(0);
    for (const i of a.validation) hist[labels[i]]++;
    expect(hist).toEqual(new Array(10).fill(500));
    // A pinned prefix: the split must not change between versions or machines.
    expect([...a.validation.subarray(0, 5)]).toEqual([3, 5, 8, 12, 16]);
    const other = splitTrainValidation(labels, 10, 5000, 1);
    expect([...other.validation.subarray(0, 50)]).not.toEqual([...a.validation.subarray(0, 50)]);
    expect(() => splitTrainValidation(labels, 10, 50000)).toThrow('Expected integer in [0, 50000) for validationSize but received 50000 of type number');
  });
});

describe('downloads (local server)', () => {
  let server: FixtureServer;
  let archiveBytes: Buffer;
  beforeAll(async () => {
    const root = tempDir();
    const { archive } = await writeCifar10(root, 10);
    archiveBytes = readFileSync(archive);
    const half = archiveBytes.subarray(0, 1000);
    server = await serve({
      '/cifar-10-binary.tar.gz': archiveBytes,
      '/moved': (res) => res.writeHead(302, { location: '/cifar-10-binary.tar.gz' }).end(),
      '/corrupted.tar.gz': Buffer.concat([archiveBytes.subarray(0, 500), Buffer.from('x'), archiveBytes.subarray(501)]),
      '/cut': (res) => {
        res.writeHead(200, { 'content-length': archiveBytes.length });
        res.write(half, () => res.destroy());
      },
    });
  });
  afterAll(() => server.close());

  it('downloads on demand into the cache folder, verified, and reads the archive', async () => {
    const cache = tempDir();
    const prev = process.env.NASNET_DATA;
    process.env.NASNET_DATA = cache;
    try {
      const remote = [{ ...CIFAR10_REMOTE[0], urls: [`${server.base}cifar-10-binary.tar.gz`], md5: md5(archiveBytes) }];
      const ds = await resolveDataset('cifar10', { remote, validationSize: 10, progress: false });
      const dest = join(cache, 'cifar10', 'cifar-10-binary.tar.gz');
      expect(ds.location).toBe(dest);
      expect(readFileSync(dest).equals(archiveBytes)).toBe(true);
      expect(ds.train.size + ds.validation.size).toBe(50);
      // Second time: the verified file is used, nothing is fetched.
      const hits = server.hits.length;
      await resolveDataset('cifar10', { remote, validationSize: 10 });
      expect(server.hits.length).toBe(hits);
    } finally {
      if (prev === undefined) delete process.env.NASNET_DATA;
      else process.env.NASNET_DATA = prev;
    }
  });

  it('follows redirects, checks sha256 and reports progress', async () => {
    const dir = tempDir();
    const seen: number[] = [];
    const file = await downloadFile(
      { name: 'c.tar.gz', urls: [`${server.base}moved`], sha256: sha256(archiveBytes) },
      dir,
      { progress: false, onProgress: (r, t) => seen.push(r / t) },
    );
    expect(readFileSync(file).equals(archiveBytes)).toBe(true);
    expect(seen.at(-1)).toBe(1);
  });

  it('discards a download whose checksum does not match: no file, no temp file', async () => {
    const dir = tempDir();
    const url = `${server.base}corrupted.tar.gz`;
    const err = await downloadFile({ name: 'c.tar.gz', urls: [url], md5: md5(archiveBytes) }, dir, { progress: false }).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toContain(`cannot download c.tar.gz into ${dir}:`);
    expect(err.message).toContain(`${url}: checksum mismatch: md5 `);
    expect(err.message).toContain(`expected ${md5(archiveBytes)} (the download was discarded)`);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('leaves nothing behind when the connection drops, and tries the next address', async () => {
    const dir = tempDir();
    const remote = { name: 'c.tar.gz', urls: [`${server.base}cut`, `${server.base}nope`], md5: md5(archiveBytes) };
    const err = await downloadFile(remote, dir, { progress: false }).catch((e) => e);
    expect(err.message).toMatch(new RegExp(`${server.base}cut: (connection closed after \\d+ of ${archiveBytes.length} bytes|aborted)`));
    expect(err.message).toContain(`${server.base}nope: HTTP 404 Not Found`);
    expect(readdirSync(dir)).toEqual([]);
    const ok = await downloadFile({ ...remote, urls: [`${server.base}nope`, `${server.base}cifar-10-binary.tar.gz`] }, dir, {
      progress: false,
    });
    expect(existsSync(ok)).toBe(true);
  });

  it('removes the temp file a killed download left, and never reads it', async () => {
    const dir = tempDir();
    // A half file from a process that no longer exists (pid 2^22 + 1 is above Linux's pid_max default).
    const stale = join(dir, 'cifar-10-binary.tar.gz.tmp-4194305');
    writeFileSync(stale, archiveBytes.subarray(0, 100));
    await expect(resolveDataset('cifar10', { dataDir: dir, download: false })).rejects.toThrow(DataError);
    const remote = [{ ...CIFAR10_REMOTE[0], urls: [`${server.base}cifar-10-binary.tar.gz`], md5: md5(archiveBytes) }];
    const ds = await resolveDataset('cifar10', { dataDir: dir, remote, validationSize: 10, progress: false });
    expect(ds.location).toBe(join(dir, 'cifar10', 'cifar-10-binary.tar.gz'));
    expect(existsSync(stale)).toBe(true); // it was in dataDir itself, not in the download folder
    const stale2 = join(dir, 'cifar10', 'x.tmp-4194305');
    writeFileSync(stale2, 'half');
    await downloadFile({ name: 'x', urls: [`${server.base}cifar-10-binary.tar.gz`] }, join(dir, 'cifar10'), { progress: false });
    expect(existsSync(stale2)).toBe(false);
  });
});
