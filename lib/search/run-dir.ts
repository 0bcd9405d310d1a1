import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { makeDirs } from '../util/writable.js';
import type { HistoryEntry } from './types.js';

/**
 * A search's run folder: everything needed to resume.
 * - `config.json`: the search options (written once)
 * - `proposals.jsonl`: every proposal, appended and flushed before it is trained
 * - `history.jsonl`: one line per finished child, appended and flushed before the strategy sees the reward
 * - `strategy.json`: the strategy's state (weights, optimizer, RNG, pending), replaced atomically
 * - `best.json`: the best genotype so far
 */
/** Every file a search keeps in its run folder. */
const RUN_FILES = ['config.json', 'strategy.json', 'proposals.jsonl', 'history.jsonl', 'rungs.jsonl', 'best.json', 'shared.safetensors'] as const;

export class RunDir {
  constructor(readonly path: string) {}

  file(name: string): string {
    return join(this.path, name);
  }

  create(): void {
    makeDirs(this.path, 'run folder');
  }

  exists(): boolean {
    return existsSync(this.file('config.json'));
  }

  /**
   * Refuses a folder where one of the files a search reads or writes is something else than a
   * regular file (a folder, a device), naming it: checked before a resume reads or appends anything.
   */
  checkFiles(): void {
    for (const name of RUN_FILES) {
      const p = this.file(name);
      if (existsSync(p) && !statSync(p).isFile()) throw new ValidationError(`${p} is not a regular file (a folder?): this run folder cannot be resumed until it is`);
    }
  }

  writeJson(name: string, value: unknown): void {
    writeFileAtomic(this.file(name), [Buffer.from(`${JSON.stringify(value, null, 2)}\n`)]);
  }

  readJson<T>(name: string): T | undefined {
    const p = this.file(name);
    if (!existsSync(p)) return undefined;
    try {
      return JSON.parse(readFileSync(p, 'utf8')) as T;
    } catch (err) {
      throw new ValidationError(`${p}: not valid JSON (${(err as Error).message})`);
    }
  }

  /** Appends one JSON line and fsyncs it: when this returns, the line survives a kill. */
  appendLine(name: string, value: unknown): void {
    const fd = openSync(this.file(name), 'a');
    try {
      writeSync(fd, `${JSON.stringify(value)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Reads a JSON-lines file. A last line cut short by a kill (no newline, not JSON) is ignored; a
   * corrupt line elsewhere is an error naming the file and line.
   */
  readLines<T>(name: string): T[] {
    const p = this.file(name);
    if (!existsSync(p)) return [];
    const text = readFileSync(p, 'utf8');
    const lines = text.split('\n');
    const out: T[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (line.trim() === '') continue;
      try {
        out.push(JSON.parse(line) as T);
      } catch (err) {
        const last = i === lines.length - 1;
        if (last) break; // a torn final line: the child it described is retrained
        throw new ValidationError(`${p}:${i + 1}: not valid JSON (${(err as Error).message})`);
      }
    }
    return out;
  }

  /**
   * Makes a JSON-lines file safe to append to again after a kill: a last line without its newline
   * gets the newline when it is whole JSON, and is cut away (with nothing else) when it is torn.
   * Only the writer of the folder calls this, before its first append (a reader never changes it).
   *
   * @param name - the file, e.g. `history.jsonl`
   * @returns what was repaired, in words, or undefined when the file was sound (or absent)
   */
  repairTornLine(name: string): string | undefined {
    const p = this.file(name);
    if (!existsSync(p)) return undefined;
    const bytes = readFileSync(p);
    if (bytes.length === 0 || bytes[bytes.length - 1] === 0x0a) return undefined;
    const start = bytes.lastIndexOf(0x0a) + 1;
    const tail = bytes.subarray(start).toString('utf8');
    let whole = true;
    try {
      JSON.parse(tail);
    } catch {
      whole = false;
    }
    const fd = openSync(p, 'r+');
    try {
      if (whole) writeSync(fd, '\n', bytes.length);
      else ftruncateSync(fd, start);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const line = bytes.subarray(0, start).toString('utf8').split('\n').length;
    return whole
      ? `${p}:${line}: the last line lacked its newline (added)`
      : `${p}:${line}: removed a torn last line of ${bytes.length - start} bytes (a write cut short by a kill; that child is trained again)`;
  }

  history(): HistoryEntry[] {
    return this.readLines<HistoryEntry>('history.jsonl');
  }
}
