import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';

/**
 * Writes `chunks` to `path` atomically: to a temporary file beside it, fsynced, then renamed over
 * `path`. A killed process leaves either the old file or the new one, never half of one.
 *
 * @param path - destination file
 * @param chunks - bytes written in order
 */
export function writeFileAtomic(path: string, chunks: readonly Uint8Array[]): void {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const fd = openSync(tmp, 'w');
  try {
    for (const chunk of chunks) {
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
    }
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
}
