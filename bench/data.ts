/**
 * Data pipeline throughput, images per second:
 * 1. CIFAR-style in-memory batches (3×32×32, batch 128): plain, and with pad-4 crop + flip + cutout 16;
 * 2. the JPEG folder pipeline: generated 500×375 JPEGs, random-resized crop to 224 + flip (training)
 *    and resize 256 + center crop 224 (evaluation), by number of decode workers.
 *
 * Usage: npx tsx bench/data.ts [--workers 1,2,4] [--images 240] [--json]
 * (sharp decodes on libuv's shared thread pool: set UV_THREADPOOL_SIZE above 4 to test more workers.)
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { createLoader, type Split, tensorSplit } from '../lib/data/index.js';
import { Rng } from '../lib/util/rng.js';

interface Row {
  pipeline: string;
  workers: number | null;
  images: number;
  seconds: number;
  imagesPerSecond: number;
}

const { values: a } = parseArgs({
  options: { workers: { type: 'string', default: '1,2,4' }, images: { type: 'string', default: '240' }, json: { type: 'boolean', default: false } },
});

async function timeEpochs(split: Split, opts: Parameters<typeof createLoader>[1], epochs: number): Promise<{ images: number; seconds: number }> {
  const loader = createLoader(split, opts);
  // Warm-up batch (worker start, JIT).
  for await (const _ of loader.epoch(1000)) break;
  const t0 = performance.now();
  let images = 0;
  for (let e = 0; e < epochs; e++) {
    for await (const b of loader.epoch(e)) images += b.size;
  }
  const seconds = (performance.now() - t0) / 1000;
  await loader.close();
  return { images, seconds };
}

async function main(): Promise<void> {
  const json = a.json;
  const workerCounts = a.workers
    .split(',')
    .map(Number)
    .filter((n) => n > 0);
  const nImages = Number(a.images);
  const rows: Row[] = [];
  const add = (pipeline: string, workers: number | null, r: { images: number; seconds: number }) => {
    rows.push({ pipeline, workers, images: r.images, seconds: +r.seconds.toFixed(3), imagesPerSecond: Math.round(r.images / r.seconds) });
    if (!json) console.error(`  ${pipeline}${workers ? ` (${workers} workers)` : ''}: ${Math.round(r.images / r.seconds)} images/s`);
  };

  // 1. CIFAR-style in-memory batches.
  const n = 50000;
  const rng = Rng.stream(1);
  const images = new Uint8Array(n * 3072);
  for (let i = 0; i < images.length; i++) images[i] = rng.uint32() & 0xff;
  const source = { images, labels: Int32Array.from({ length: n }, (_, i) => i % 10), count: n, channels: 3, height: 32, width: 32 };
  const info = { name: 'cifar-like', channels: 3, height: 32, width: 32, classes: 10, mean: [0.49, 0.48, 0.45], std: [0.25, 0.24, 0.26] };
  const split = tensorSplit('train', source, undefined, info);
  add('cifar 32x32, no augmentation', null, await timeEpochs(split, { batchSize: 128, shuffle: true }, 2));
  add('cifar 32x32, crop+flip+cutout16', null, await timeEpochs(split, { batchSize: 128, shuffle: true, augment: { crop: true, flip: true, cutout: 16 } }, 2));

  // 2. JPEG folder pipeline.
  const root = join(tmpdir(), `nasnet-bench-data-${process.pid}`);
  try {
    const files: string[] = [];
    const labels: number[] = [];
    const classes = 4;
    for (let c = 0; c < classes; c++) mkdirSync(join(root, `c${c}`), { recursive: true });
    for (let k = 0; k < nImages; k++) {
      // A noisy photo-like image: smooth gradient plus noise, so JPEG has real work to do.
      const w = 500;
      const h = 375;
      const raw = Buffer.alloc(w * h * 3);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const o = (y * w + x) * 3;
          const noise = rng.uint32() & 31;
          raw[o] = (x * 255) / w + noise;
          raw[o + 1] = (y * 255) / h + noise;
          raw[o + 2] = ((x + y + k * 17) & 255) ^ noise;
        }
      }
      const file = join(root, `c${k % classes}`, `img${k}.JPEG`);
      writeFileSync(file, await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toBuffer());
      files.push(file);
      labels.push(k % classes);
    }
    const fileSplit: Split = {
      kind: 'files',
      name: 'train',
      size: files.length,
      info: { name: 'jpeg-bench', channels: 3, height: 224, width: 224, classes, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
      files,
      labels: Int32Array.from(labels),
      resizeSize: 256,
    };
    for (const workers of workerCounts) {
      add('jpeg 500x375 -> random-resized crop 224 + flip', workers, await timeEpochs(fileSplit, { batchSize: 32, shuffle: true, workers, augment: { crop: true, flip: true } }, 1));
    }
    for (const workers of workerCounts) {
      add('jpeg 500x375 -> resize 256, center crop 224', workers, await timeEpochs(fileSplit, { batchSize: 32, workers }, 1));
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }

  const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), node: process.version, uvThreadpool: process.env.UV_THREADPOOL_SIZE ?? '4 (default)' };
  if (json) {
    console.log(JSON.stringify({ machine, rows }, null, 2));
    return;
  }
  console.log(`\nData pipeline throughput — ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, UV_THREADPOOL_SIZE ${machine.uvThreadpool}\n`);
  console.log('| pipeline | workers | images | seconds | images/s |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.pipeline} | ${r.workers ?? '–'} | ${r.images} | ${r.seconds} | ${r.imagesPerSecond} |`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
