/** Reading a file that may be gzipped, with errors that name the file. */
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { DataError } from '../errors.js';

const gunzipAsync = promisify(gunzip);

/** True when `buf` starts with the gzip magic bytes 1f 8b. */
export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/**
 * Read a file whole, gunzipping it when it starts with the gzip magic (whatever its name).
 *
 * @param file - path of the file.
 * @returns the (decompressed) bytes.
 * @throws DataError naming the file when it is missing or its gzip stream is corrupt or truncated.
 * @example
 * const bytes = await readMaybeGzip('/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz');
 */
export async function readMaybeGzip(file: string): Promise<Buffer> {
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new DataError(`${file}: cannot read (${e.code ?? e.message})`);
  }
  if (!isGzip(raw)) return raw;
  try {
    return await gunzipAsync(raw);
  } catch (err) {
    throw new DataError(
      `${file}: the gzip stream is corrupt or truncated (${(err as Error).message}); expected a complete gzip file of ${raw.length} or more bytes`,
    );
  }
}
