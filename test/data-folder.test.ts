import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Batch, createLoader, type FileSplit, type Loader, resolveDataset, scanClassFolders } from '../lib/data/index.js';
import { DataError } from '../lib/errors.js';
import { classColour, removeTempDirs, splitImage, tempDir, writeImageFolder } from './helpers/data-fixtures.js';

afterAll(removeTempDirs);

async function collect(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

const loaders: Loader[] = [];
function track(l: Loader): Loader {
  loaders.push(l);
  return l;
}
afterAll(async () => {
  await Promise.all(loaders.map((l) => l.close()));
});

describe('image folders (ImageNet layout)', () => {
  let root: string;
  beforeAll(async () => {
    root = tempDir();
    await writeImageFolder(join(root, 'train'), 3, 6);
    await writeImageFolder(join(root, 'val'), 3, 2);
  });

  it('scans class folders in code-point order with sorted files', async () => {
    const s = await scanClassFolders(join(root, 'train'));
    expect(s.classNames).toEqual(['c0', 'c1', 'c2']);
    expect(s.files.length).toBe(18);
    expect(s.files[0]).toBe(join(root, 'train', 'c0', 'img0.jpg'));
    expect(s.files[2]).toBe(join(root, 'train', 'c0', 'img2.png'));
    expect([...s.labels.subarray(5, 8)]).toEqual([0, 1, 1]);
  });

  it('resolves folder:PATH with train/ and val/, 224 from 256 by default', async () => {
    const ds = await resolveDataset(`folder:${root}`);
    expect(ds.info).toMatchObject({ name: `folder:${root}`, channels: 3, height: 224, width: 224, classes: 3 });
    expect(ds.info.mean).toEqual([0.485, 0.456, 0.406]);
    expect([ds.train.size, ds.validation.size, ds.test.size]).toEqual([18, 6, 6]);
    if (ds.train.kind !== 'files') throw new Error('expected a folder split');
    expect(ds.train.resizeSize).toBe(256);
    const big = await resolveDataset(`folder:${root}`, { size: 331 });
    if (big.validation.kind !== 'files') throw new Error('expected a folder split');
    expect(big.validation.resizeSize).toBe(378);
  });

  it('evaluation: resize and center crop, left half class colour, right half white', async () => {
    const ds = await resolveDataset(`folder:${root}`, { size: 32 });
    const loader = track(createLoader(ds.validation, { batchSize: 6, workers: 2, normalize: false }));
    const [b] = await collect(loader.epoch(0));
    expect(b.images.length).toBe(6 * 3 * 32 * 32);
    for (let k = 0; k < 6; k++) {
      const c = b.labels[k];
      const [r, g, bl] = classColour(c);
      const at = (ch: number, y: number, x: number) => b.images[k * 3072 + ch * 1024 + y * 32 + x] * 255;
      // JPEG is lossy: within a few levels, away from the edge between the halves.
      expect(Math.abs(at(0, 16, 2) - r)).toBeLessThan(6);
      expect(Math.abs(at(1, 16, 2) - g)).toBeLessThan(6);
      expect(Math.abs(at(2, 16, 2) - bl)).toBeLessThan(6);
      expect(at(0, 16, 29)).toBeGreaterThan(248);
    }
  });

  it('training: random-resized crop and flip, the same for the same seed whatever the worker count', async () => {
    const ds = await resolveDataset(`folder:${root}`, { size: 24 });
    const opts = { batchSize: 5, shuffle: true, seed: 11, augment: { crop: true, flip: true, cutout: 8 } };
    const a = await collect(track(createLoader(ds.train, { ...opts, workers: 1 })).epoch(1));
    const b = await collect(track(createLoader(ds.train, { ...opts, workers: 3, prefetch: 0 })).epoch(1));
    const c = await collect(track(createLoader(ds.train, { ...opts, workers: 2 })).epoch(2));
    expect(a.map((x) => x.size)).toEqual([5, 5, 5, 3]);
    expect(a.map((x) => [...x.positions])).toEqual(b.map((x) => [...x.positions]));
    expect(a.map((x) => Buffer.from(x.images.buffer).toString('base64'))).toEqual(
      b.map((x) => Buffer.from(x.images.buffer).toString('base64')),
    );
    expect(c.map((x) => [...x.positions])).not.toEqual(a.map((x) => [...x.positions]));
    // Flip alone (center crop): the white half is on the left exactly for the flipped images.
    const flips = await collect(track(createLoader(ds.validation, { batchSize: 6, seed: 3, augment: { flip: true } })).epoch(0));
    const whiteLeft = Array.from({ length: 6 }, (_, k) => flips[0].images[k * 3 * 576 + 12 * 24 + 1] > 1.5);
    const whiteRight = Array.from({ length: 6 }, (_, k) => flips[0].images[k * 3 * 576 + 12 * 24 + 22] > 1.5);
    expect(whiteLeft.some(Boolean)).toBe(true);
    expect(whiteLeft.every(Boolean)).toBe(false);
    expect(whiteLeft.map((w, k) => w !== whiteRight[k]).every(Boolean)).toBe(true);
  });

  it('reads a flat validation folder with a labels file', async () => {
    const r2 = tempDir();
    await writeImageFolder(join(r2, 'train'), 2, 2);
    mkdirSync(join(r2, 'val'));
    writeFileSync(join(r2, 'val', 'a.JPEG'), await splitImage(40, 40, 1, 'jpeg'));
    writeFileSync(join(r2, 'val', 'b.png'), await splitImage(40, 40, 0, 'png'));
    writeFileSync(join(r2, 'val', 'labels.txt'), '# file label\na.JPEG c1\nb.png 0\n');
    const ds = await resolveDataset(`folder:${r2}`, { size: 16 });
    expect([...ds.validation.labels]).toEqual([1, 0]);
    const [b] = await collect(track(createLoader(ds.validation, { batchSize: 2, normalize: false, workers: 1 })).epoch(0));
    expect(Math.abs(b.images[8 * 16 + 1] * 255 - classColour(1)[0])).toBeLessThan(6);
    writeFileSync(join(r2, 'val', 'labels.txt'), 'a.JPEG c1\nb.png dog\n');
    await expect(resolveDataset(`folder:${r2}`)).rejects.toThrow(
      `${join(r2, 'val', 'labels.txt')}:2: unknown class 'dog'; expected one of the 2 training class names or an index below 2`,
    );
    writeFileSync(join(r2, 'val', 'labels.txt'), 'a.JPEG\n');
    await expect(resolveDataset(`folder:${r2}`)).rejects.toThrow(
      `${join(r2, 'val', 'labels.txt')}:1: expected "<image file> <class name or index>" but read "a.JPEG"`,
    );
  });

  it('splits a folder with no train/ folder 90/10, seeded', async () => {
    const r3 = tempDir();
    await writeImageFolder(r3, 2, 5, 20, 20);
    const ds = await resolveDataset(`folder:${r3}`, { size: 16 });
    expect([ds.train.size, ds.validation.size]).toEqual([9, 1]);
    expect(ds.test).toBe(ds.validation);
  });
});

describe('bad image folders', () => {
  it('names a missing folder, an empty root, an empty class folder and an unknown class', async () => {
    const none = join(tempDir(), 'nope');
    await expect(resolveDataset(`folder:${none}`)).rejects.toThrow(
      `${none}: folder not found; expected ROOT/<class>/*.jpg or ROOT/train/<class>/*.jpg`,
    );
    const empty = tempDir();
    await expect(resolveDataset(`folder:${empty}`)).rejects.toThrow(`${empty}: no class folders; expected ROOT/<class>/*.jpg|png`);
    const r = tempDir();
    await writeImageFolder(r, 2, 2, 16, 16);
    mkdirSync(join(r, 'c9'));
    writeFileSync(join(r, 'c9', 'notes.txt'), 'not an image');
    await expect(resolveDataset(`folder:${r}`)).rejects.toThrow(
      `${join(r, 'c9')}: class folder holds no images; expected files ending in .jpg, .jpeg, .png`,
    );
    const r2 = tempDir();
    await writeImageFolder(join(r2, 'train'), 2, 2, 16, 16);
    await writeImageFolder(join(r2, 'val'), 3, 1, 16, 16);
    await expect(resolveDataset(`folder:${r2}`)).rejects.toThrow(`${join(r2, 'val', 'c2')}: class 'c2' is not among the 2 training classes`);
    await expect(resolveDataset('imagenet', { dataDir: r })).rejects.toThrow(
      `${join(r, 'imagenet', 'train')}: folder not found; ImageNet cannot be downloaded automatically`,
    );
    await expect(resolveDataset('svhn')).rejects.toThrow(
      "Unknown data set 'svhn'; expected one of cifar10, cifar100, fashion-mnist, fashion-mnist-mini, mnist, imagenet or folder:PATH",
    );
  });

  it('an undecodable image fails with its file and index, or is skipped and counted by option', async () => {
    const r = tempDir();
    await writeImageFolder(r, 2, 3, 20, 20);
    const good = await splitImage(20, 20, 1, 'jpeg');
    const bad = join(r, 'c1', 'img1.jpg');
    writeFileSync(bad, good.subarray(0, 200)); // truncated JPEG
    const garbage = join(r, 'c0', 'img0.jpg');
    writeFileSync(garbage, Buffer.from('this is not a JPEG at all'));
    const ds = await resolveDataset(`folder:${r}`, { size: 16, validationSize: 1 });
    const scanned = await scanClassFolders(r);
    const all: FileSplit = { kind: 'files', name: 'train', size: 6, info: ds.info, files: scanned.files, labels: scanned.labels, resizeSize: 18 };
    const strict = track(createLoader(all, { batchSize: 6, workers: 1 }));
    const err = await collect(strict.epoch(0)).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toMatch(
      new RegExp(`^${garbage.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(image 0 of split 'train'\\): cannot decode \\(.+\\); expected a JPEG or PNG image\\. Pass skipCorrupt to skip such images$`),
    );
    const warnings: string[] = [];
    const lenient = track(createLoader(all, { batchSize: 4, workers: 2, skipCorrupt: true, onWarning: (m) => warnings.push(m) }));
    const batches = await collect(lenient.epoch(0));
    expect(batches.map((b) => b.size)).toEqual([3, 1]);
    expect(batches.flatMap((b) => [...b.positions])).toEqual([1, 2, 3, 5]);
    expect(lenient.skipped.count).toBe(2);
    expect(lenient.skipped.files.sort()).toEqual([garbage, bad].sort());
    expect(warnings.filter((w) => w.startsWith('skipping undecodable image')).length).toBe(2);
    expect(warnings.at(-1)).toBe("epoch 0 of split 'train': skipped 2 undecodable image(s) of 6");
    // Next epoch: known-bad files are not decoded again, but still counted.
    await collect(lenient.epoch(1));
    expect(lenient.skipped.count).toBe(2);
    expect(warnings.at(-1)).toBe("epoch 1 of split 'train': skipped 2 undecodable image(s) of 6");
  });
});
