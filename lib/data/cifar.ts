/**
 * CIFAR-10 and CIFAR-100 in their binary distribution format
 * (https://www.cs.toronto.edu/~kriz/cifar.html). Each record is the label byte(s) followed by
 * 3072 pixel bytes: 1024 red, 1024 green, 1024 blue, row-major 32×32 — already planar (CHW).
 * CIFAR-10 records have one label byte (3073 bytes); CIFAR-100 records have two, the coarse
 * (20 superclasses) then the fine (100 classes) label (3074 bytes).
 */
import { createReadStream, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Parser, type ReadEntry } from 'tar';
import { DataError } from '../errors.js';
import type { TensorSource } from './types.js';

/** The layout of one CIFAR variant's distribution. */
export interface CifarLayout {
  /** 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine). */
  labelBytes: 1 | 2;
  /** Which label byte is the class (0-based within the label bytes): 0 for CIFAR-10, 1 (fine) for CIFAR-100. */
  labelByte: number;
  classes: number;
  /** Folder inside the archive. */
  folder: string;
  /** Training files, in order. */
  trainFiles: string[];
  testFiles: string[];
  /** The official archive name. */
  archive: string;
}

/** CIFAR-10: five training batches of 10,000 and one test batch. */
export const CIFAR10_LAYOUT: CifarLayout = {
  labelBytes: 1,
  labelByte: 0,
  classes: 10,
  folder: 'cifar-10-batches-bin',
  trainFiles: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
  testFiles: ['test_batch.bin'],
  archive: 'cifar-10-binary.tar.gz',
};

/** CIFAR-100: one training file of 50,000 and one test file of 10,000, fine labels. */
export const CIFAR100_LAYOUT: CifarLayout = {
  labelBytes: 2,
  labelByte: 1,
  classes: 100,
  folder: 'cifar-100-binary',
  trainFiles: ['train.bin'],
  testFiles: ['test.bin'],
  archive: 'cifar-100-binary.tar.gz',
};

const PIXELS = 3 * 32 * 32;

/**
 * Parse CIFAR binary records.
 *
 * @param bufs - each file's bytes with its name, in order; records are concatenated.
 * @param layout - {@link CIFAR10_LAYOUT} or {@link CIFAR100_LAYOUT}.
 * @returns a 3×32×32 in-memory source.
 * @throws DataError naming the file, the record and its offset on a truncated file or an out-of-range label.
 * @example
 * const src = parseCifarRecords([{ file: 'test_batch.bin', bytes }], CIFAR10_LAYOUT); // src.count = 10000
 */
export function parseCifarRecords(bufs: { file: string; bytes: Uint8Array }[], layout: CifarLayout): TensorSource {
  const record = layout.labelBytes + PIXELS;
  let count = 0;
  for (const { file, bytes } of bufs) {
    if (bytes.length === 0 || bytes.length % record !== 0) {
      const whole = Math.floor(bytes.length / record);
      throw new DataError(
        `${file}: ${bytes.length} bytes is not a whole number of ${record}-byte records (${layout.labelBytes} label byte${layout.labelBytes > 1 ? 's' : ''} + ${PIXELS} pixels); truncated in record ${whole} at offset ${whole * record}`,
      );
    }
    count += bytes.length / record;
  }
  const images = new Uint8Array(count * PIXELS);
  const labels = new Int32Array(count);
  let n = 0;
  for (const { file, bytes } of bufs) {
    const records = bytes.length / record;
    for (let r = 0; r < records; r++, n++) {
      const off = r * record;
      const label = bytes[off + layout.labelByte];
      if (label >= layout.classes) {
        throw new DataError(
          `${file}: record ${r} (offset ${off + layout.labelByte}) has label ${label}; expected 0..${layout.classes - 1}`,
        );
      }
      labels[n] = label;
      images.set(bytes.subarray(off + layout.labelBytes, off + record), n * PIXELS);
    }
  }
  return { images, labels, count, channels: 3, height: 32, width: 32 };
}

async function readBinFiles(dir: string, names: string[]): Promise<{ file: string; bytes: Uint8Array }[]> {
  return Promise.all(names.map(async (name) => ({ file: join(dir, name), bytes: await readFile(join(dir, name)) })));
}

/**
 * Find the folder holding a CIFAR variant's `.bin` files: `dir` itself or `dir/<layout.folder>`.
 * @returns the folder, or undefined when neither holds all the files.
 */
export function findCifarFolder(dir: string, layout: CifarLayout): string | undefined {
  for (const d of [dir, join(dir, layout.folder)]) {
    if ([...layout.trainFiles, ...layout.testFiles].every((f) => existsSync(join(d, f)))) return d;
  }
  return undefined;
}

/**
 * Read CIFAR from a folder of `.bin` files.
 *
 * @param dir - the folder (`cifar-10-batches-bin` or `cifar-100-binary`, or its parent).
 * @param layout - {@link CIFAR10_LAYOUT} or {@link CIFAR100_LAYOUT}.
 * @throws DataError naming the missing files.
 * @example
 * const { train, test } = await readCifarFolder('/data/cifar-10-batches-bin', CIFAR10_LAYOUT);
 */
export async function readCifarFolder(dir: string, layout: CifarLayout): Promise<{ train: TensorSource; test: TensorSource }> {
  const folder = findCifarFolder(dir, layout);
  if (folder === undefined) {
    const names = [...layout.trainFiles, ...layout.testFiles];
    const missing = names.filter((f) => !existsSync(join(dir, f)) && !existsSync(join(dir, layout.folder, f)));
    throw new DataError(`${dir}: missing ${missing.join(', ')}; expected the CIFAR binary files in it or in ${layout.folder}/`);
  }
  const [train, test] = await Promise.all([readBinFiles(folder, layout.trainFiles), readBinFiles(folder, layout.testFiles)]);
  return { train: parseCifarRecords(train, layout), test: parseCifarRecords(test, layout) };
}

/**
 * Read CIFAR straight from the official `.tar.gz` (streamed; nothing is extracted to disk).
 *
 * @param archive - path to `cifar-10-binary.tar.gz` or `cifar-100-binary.tar.gz`.
 * @param layout - {@link CIFAR10_LAYOUT} or {@link CIFAR100_LAYOUT}.
 * @throws DataError naming the archive on a corrupt or truncated archive or a missing member.
 * @example
 * const { train, test } = await readCifarArchive('cifar-10-binary.tar.gz', CIFAR10_LAYOUT);
 */
export async function readCifarArchive(
  archive: string,
  layout: CifarLayout,
): Promise<{ train: TensorSource; test: TensorSource }> {
  const wanted = new Set([...layout.trainFiles, ...layout.testFiles]);
  const got = new Map<string, Uint8Array>();
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (why: string) => {
      if (failed) return;
      failed = true;
      reject(new DataError(`${archive}: ${why}; expected a complete ${layout.archive}`));
    };
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const name = basename(entry.path);
        if (entry.type !== 'File' || !wanted.has(name)) {
          entry.resume();
          return;
        }
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => {
          const bytes = Buffer.concat(chunks);
          if (bytes.length !== entry.size) fail(`member ${entry.path} is truncated at ${bytes.length} of ${entry.size} bytes`);
          else got.set(name, bytes);
        });
      },
    });
    parser.on('error', (err: Error) => fail(`corrupt or truncated archive (${err.message})`));
    parser.on('warn', (_code: string, message: string | Error) =>
      fail(`corrupt or truncated archive (${message instanceof Error ? message.message : message})`),
    );
    parser.on('end', () => {
      if (!failed) resolve();
    });
    const stream = createReadStream(archive);
    stream.on('error', (err: NodeJS.ErrnoException) => fail(`cannot read (${err.code ?? err.message})`));
    stream.pipe(parser);
  });
  const missing = [...wanted].filter((n) => !got.has(n));
  if (missing.length > 0) {
    throw new DataError(`${archive}: archive lacks ${missing.map((m) => `${layout.folder}/${m}`).join(', ')}`);
  }
  const pick = (names: string[]) => names.map((n) => ({ file: `${archive}:${layout.folder}/${n}`, bytes: got.get(n)! }));
  return { train: parseCifarRecords(pick(layout.trainFiles), layout), test: parseCifarRecords(pick(layout.testFiles), layout) };
}
