#!/usr/bin/env node
// Writes data/fashion-mnist-mini/: a class-balanced subset of the real Fashion-MNIST in its
// original format (gzipped IDX), for the quick start without network. The subset is the first
// 300 training and the first 100 test images of each class, in file order, so running this again
// on the same source gives the same files.
//
// Usage: node scripts/make-mini-fashion.mjs [SOURCE_DIR]   (default /usr/share/datasets/fashion-mnist,
// from Debian's dataset-fashion-mnist package)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

const source = process.argv[2] ?? '/usr/share/datasets/fashion-mnist';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'data', 'fashion-mnist-mini');
const PER_CLASS = { train: 300, t10k: 100 };

function readIdx(file, ndims) {
  let buf = readFileSync(file);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  const magic = buf.readUInt32BE(0);
  if (magic !== 0x800 + ndims) throw new Error(`${file}: magic 0x${magic.toString(16)}, expected 0x${(0x800 + ndims).toString(16)}`);
  const dims = [];
  for (let d = 0; d < ndims; d++) dims.push(buf.readUInt32BE(4 + 4 * d));
  const header = 4 + 4 * ndims;
  const total = dims.reduce((a, b) => a * b, 1);
  if (buf.length !== header + total) throw new Error(`${file}: ${buf.length} bytes, expected ${header + total}`);
  return { dims, data: buf.subarray(header) };
}

function writeIdx(file, dims, data) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(0x800 + dims.length, 0);
  dims.forEach((n, i) => {
    header.writeUInt32BE(n, 4 + 4 * i);
  });
  // gzip with a zero mtime: the same input always gives the same bytes.
  writeFileSync(file, gzipSync(Buffer.concat([header, data]), { level: 9 }));
}

mkdirSync(out, { recursive: true });
for (const [prefix, perClass] of Object.entries(PER_CLASS)) {
  const images = readIdx(join(source, `${prefix}-images-idx3-ubyte.gz`), 3);
  const labels = readIdx(join(source, `${prefix}-labels-idx1-ubyte.gz`), 1);
  const [n, rows, cols] = images.dims;
  const counts = new Array(10).fill(0);
  const picked = [];
  for (let i = 0; i < n && picked.length < perClass * 10; i++) {
    const c = labels.data[i];
    if (counts[c] < perClass) {
      counts[c]++;
      picked.push(i);
    }
  }
  if (picked.length !== perClass * 10) throw new Error(`${source}: fewer than ${perClass} ${prefix} images in some class`);
  const px = rows * cols;
  const img = Buffer.alloc(picked.length * px);
  const lab = Buffer.alloc(picked.length);
  picked.forEach((i, k) => {
    images.data.copy(img, k * px, i * px, (i + 1) * px);
    lab[k] = labels.data[i];
  });
  writeIdx(join(out, `${prefix}-images-idx3-ubyte.gz`), [picked.length, rows, cols], img);
  writeIdx(join(out, `${prefix}-labels-idx1-ubyte.gz`), [picked.length], lab);
  console.log(`${prefix}: ${picked.length} images (${perClass} per class)`);
}

writeFileSync(
  join(out, 'LICENSE'),
  `This folder holds a subset of Fashion-MNIST (https://github.com/zalandoresearch/fashion-mnist):
the first 300 training and the first 100 test images of each of its 10 classes, in the original
gzipped IDX format, written by scripts/make-mini-fashion.mjs.

Fashion-MNIST is licensed under the MIT License:

The MIT License (MIT)

Copyright (c) 2017 Zalando SE

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`,
);
console.log(`wrote ${out}`);
