import { closeSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import { dirname, parse, resolve } from 'node:path';
import { ValidationError } from '../errors.js';

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? e.message;
}

/**
 * Creates a folder and its missing parents, one level at a time. (Node's `mkdirSync(p, { recursive:
 * true })` spins forever under a pseudo-filesystem such as /proc, where mkdir answers ENOENT.)
 *
 * @param dir - the folder
 * @param field - what the folder is for, named in the error (e.g. `--run`)
 * @param named - the path the user gave, named in the error (default: `dir`)
 * @throws ValidationError `--run /proc/x: cannot create the folder /proc/x (ENOENT)`
 * @example makeDirs('runs/2026-11-30', 'runDir');
 */
export function makeDirs(dir: string, field: string, named = dir): void {
  const full = resolve(dir);
  const missing: string[] = [];
  for (let d = full; ; d = dirname(d)) {
    let isDir: boolean | undefined;
    try {
      isDir = statSync(d).isDirectory();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ValidationError(`${field} ${named}: cannot read ${d} (${reason(err)})`);
    }
    if (isDir === false) throw new ValidationError(`${field} ${named}: ${d} exists and is not a folder`);
    if (isDir || d === parse(d).root) break;
    missing.unshift(d);
  }
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && statSync(d).isDirectory()) continue;
      throw new ValidationError(`${field} ${named}: cannot create the folder ${d} (${reason(err)})`);
    }
  }
}

/**
 * Checks, before any work, that a file can be written where the user asked: its folder exists (or is
 * created) and takes a new file (probed by creating and removing one: permission bits do not tell,
 * e.g. for root under /proc or on a read-only mount), and the path is not a folder.
 *
 * @param file - the file to be written later
 * @param field - the option naming it, in the error (e.g. `--checkpoint`)
 * @throws ValidationError `--checkpoint /proc/x.safetensors: cannot write in /proc (ENOENT)`
 * @example checkWritableFile('out/model.onnx', '--onnx');
 */
export function checkWritableFile(file: string, field: string): void {
  const dir = dirname(resolve(file));
  makeDirs(dir, field, file);
  try {
    if (statSync(file).isDirectory()) throw new ValidationError(`${field} ${file}: is a folder, expected a file`);
  } catch (err) {
    if (err instanceof ValidationError) throw err;
  }
  const probe = resolve(dir, `.nasnet-write-probe-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  try {
    closeSync(openSync(probe, 'wx'));
  } catch (err) {
    throw new ValidationError(`${field} ${file}: cannot write in ${dir} (${reason(err)})`);
  }
  rmSync(probe, { force: true });
}
