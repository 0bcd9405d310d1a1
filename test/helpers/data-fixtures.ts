/**
 * Test fixtures for the data layer, written in the exact real formats: CIFAR `.bin` records and
 * the official `.tar.gz` layout, gzipped IDX, JPEG/PNG folders written with sharp, and a local
 * HTTP server (127.0.0.1, port 0) for the download path.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { create as tarCreate } from 'tar';
import { encodeIdx } from '../../lib/data/idx.js';

const made: string[] = [];

/** A fresh temporary folder, removed by {@link removeTempDirs}. */
export function tempDir(prefix = 'nasnet-data-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

/** Remove every folder {@link tempDir} made (call from `afterAll`). */
export function removeTempDirs(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/**
 * Pixel `p` of image `n`: a value that identifies the image, so tests can check which image
 * landed where. Pixel 0 and 1 hold n's low and high bytes; the rest is a ramp.
 */
export function fixturePixel(n: number, p: number): number {
  if (p === 0) return n & 0xff;
  if (p === 1) return (n >> 8) & 0xff;
  return (n * 7 + p * 13) & 0xff;
}

/**
 * CIFAR binary records.
 * @param first - number of the first image (for {@link fixturePixel}).
 * @param count - records.
 * @param labelBytes - 1 (CIFAR-10) or 2 (CIFAR-100: coarse then fine).
 * @param label - fine label of image n.
 */
export function cifarRecords(first: number, count: number, labelBytes: 1 | 2, label: (n: number) => number): Buffer {
  const rec = labelBytes + 3072;
  const out = Buffer.alloc(count * rec);
  for (let i = 0; i < count; i++) {
    const n = first + i;
    const off = i * rec;
    if (labelBytes === 2) {
      out[off] = label(n) % 20; // coarse
      out[off + 1] = label(n);
    } else {
      out[off] = label(n);
    }
    for (let p = 0; p < 3072; p++) out[off + labelBytes + p] = fixturePixel(n, p);
  }
  return out;
}

/**
 * A CIFAR-10 distribution in miniature: `cifar-10-batches-bin/` with five training batches of
 * `perBatch` records and a test batch, plus the same folder packed as `cifar-10-binary.tar.gz`.
 * Labels: image n has label n % 10. Training images are numbered 0.., test images from 1000.
 */
export async function writeCifar10(root: string, perBatch: number): Promise<{ folder: string; archive: string }> {
  const folder = join(root, 'cifar-10-batches-bin');
  mkdirSync(folder, { recursive: true });
  for (let b = 0; b < 5; b++) {
    writeFileSync(join(folder, `data_batch_${b + 1}.bin`), cifarRecords(b * perBatch, perBatch, 1, (n) => n % 10));
  }
  writeFileSync(join(folder, 'test_batch.bin'), cifarRecords(1000, perBatch, 1, (n) => n % 10));
  writeFileSync(join(folder, 'batches.meta.txt'), 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n');
  const archive = join(root, 'cifar-10-binary.tar.gz');
  await tarCreate({ gzip: true, file: archive, cwd: root, portable: true }, ['cifar-10-batches-bin']);
  return { folder, archive };
}

/** A CIFAR-100 distribution in miniature (`cifar-100-binary/train.bin`, `test.bin`); fine label n % 100. */
export async function writeCifar100(root: string, train: number, test: number): Promise<{ folder: string; archive: string }> {
  const folder = join(root, 'cifar-100-binary');
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'train.bin'), cifarRecords(0, train, 2, (n) => n % 100));
  writeFileSync(join(folder, 'test.bin'), cifarRecords(5000, test, 2, (n) => n % 100));
  const archive = join(root, 'cifar-100-binary.tar.gz');
  await tarCreate({ gzip: true, file: archive, cwd: root, portable: true }, ['cifar-100-binary']);
  return { folder, archive };
}

/** Gzipped IDX files of an MNIST-style set: `train` and `test` images 28×28, image n has label n % 10. */
export function writeIdxSet(dir: string, train: number, test: number): Record<string, Buffer> {
  mkdirSync(dir, { recursive: true });
  const files: Record<string, Buffer> = {};
  for (const [prefix, count, first] of [
    ['train', train, 0],
    ['t10k', test, 50000],
  ] as const) {
    const img = new Uint8Array(count * 784);
    const lab = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      for (let p = 0; p < 784; p++) img[i * 784 + p] = fixturePixel(first + i, p);
      lab[i] = (first + i) % 10;
    }
    files[`${prefix}-images-idx3-ubyte.gz`] = gzipSync(encodeIdx([count, 28, 28], img));
    files[`${prefix}-labels-idx1-ubyte.gz`] = gzipSync(encodeIdx([count], lab));
  }
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  return files;
}

/**
 * Colour of class c's images: distinct per class, so a decoded image tells its class.
 */
export function classColour(c: number): [number, number, number] {
  return [(c * 80 + 40) % 256, (c * 50 + 100) % 256, (c * 120 + 20) % 256];
}

/**
 * An image of `width × height`: its left half class c's colour, its right half white, so flips show.
 */
export async function splitImage(width: number, height: number, c: number, format: 'jpeg' | 'png'): Promise<Buffer> {
  const [r, g, b] = classColour(c);
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      const left = x < width / 2;
      raw[o] = left ? r : 255;
      raw[o + 1] = left ? g : 255;
      raw[o + 2] = left ? b : 255;
    }
  }
  const img = sharp(raw, { raw: { width, height, channels: 3 } });
  return format === 'jpeg' ? img.jpeg({ quality: 95 }).toBuffer() : img.png().toBuffer();
}

/**
 * Write `root/<class>/img<k>.(jpg|png)` for `classes` classes of `perClass` images each.
 * Class folders are named `c0`, `c1`, ...; every third image is a PNG.
 */
export async function writeImageFolder(
  root: string,
  classes: number,
  perClass: number,
  width = 64,
  height = 48,
): Promise<string[]> {
  const files: string[] = [];
  for (let c = 0; c < classes; c++) {
    mkdirSync(join(root, `c${c}`), { recursive: true });
    for (let k = 0; k < perClass; k++) {
      const png = k % 3 === 2;
      const file = join(root, `c${c}`, `img${k}.${png ? 'png' : 'jpg'}`);
      writeFileSync(file, await splitImage(width, height, c, png ? 'png' : 'jpeg'));
      files.push(file);
    }
  }
  return files;
}

/** A local HTTP server for download tests. */
export interface FixtureServer {
  /** `http://127.0.0.1:PORT/` */
  base: string;
  /** Paths requested, in order. */
  hits: string[];
  close(): Promise<void>;
}

/**
 * Serve `routes` (path → bytes, or a handler that writes the response) on 127.0.0.1, port 0.
 * Unknown paths get 404.
 */
export async function serve(
  routes: Record<string, Buffer | ((res: import('node:http').ServerResponse) => void)>,
): Promise<FixtureServer> {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.push(path);
    const r = routes[path];
    if (r === undefined) {
      res.writeHead(404).end('not found');
    } else if (typeof r === 'function') {
      r(res);
    } else {
      res.writeHead(200, { 'content-length': r.length }).end(r);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}/`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
