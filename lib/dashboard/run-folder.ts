/**
 * Run folders as the dashboard reads them: which folders are runs, and `history.jsonl` read
 * incrementally (only the bytes appended since the last read), tolerating a line still being written
 * and records of fields or versions this code does not know.
 */
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ValidationError } from '../errors.js';

/** The files that make a folder a run folder (either is enough). */
const RUN_MARKERS = ['config.json', 'history.jsonl'] as const;

/** True when `dir` holds a search's `config.json` or `history.jsonl`. */
export function isRunFolder(dir: string): boolean {
  return RUN_MARKERS.some((f) => existsSync(join(dir, f)));
}

/** The run folders directly inside `dir`, sorted by name. */
export function runFoldersIn(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
  return names
    .sort()
    .map((n) => join(dir, n))
    .filter(isRunFolder);
}

/** What the folders given to the dashboard turned out to be. */
export interface ResolvedFolders {
  /** Run folders, absolute. */
  runs: string[];
  /** Folders of run folders (e.g. `runs/`, a strategy comparison's `--out`): watched for new runs. */
  parents: string[];
}

/**
 * Resolves the folders given to `nasnet dashboard`: a run folder is served as it is; a folder holding
 * run folders (such as `runs/`, or the folder `bench/compare-strategies.ts --out` writes) serves each
 * of them, and runs created there later.
 *
 * @param paths - folders as typed
 * @param options - `allowMissing`: a folder that does not exist yet (or holds nothing yet) is a run
 *   whose search is about to start (`nasnet search --dashboard`)
 * @throws ValidationError naming the folder: missing, a file, or neither a run nor a folder of runs
 * @example
 * resolveRunFolders(['runs/ppo1', 'runs/compare']); // { runs: [...ppo1, ...compare/ppo-seed1, ...], parents: [...compare] }
 */
export function resolveRunFolders(paths: readonly string[], options: { allowMissing?: boolean } = {}): ResolvedFolders {
  const runs: string[] = [];
  const parents: string[] = [];
  for (const p of paths) {
    const abs = resolve(p);
    if (!existsSync(abs)) {
      if (options.allowMissing) {
        runs.push(abs);
        continue;
      }
      throw new ValidationError(`${p}: no such folder (give a run folder, e.g. runs/<name>, or a folder of run folders)`);
    }
    if (!statSync(abs).isDirectory()) {
      throw new ValidationError(`${p} is a file, not a run folder (give the folder that holds config.json and history.jsonl)`);
    }
    if (isRunFolder(abs)) {
      runs.push(abs);
      continue;
    }
    const inside = runFoldersIn(abs);
    if (inside.length === 0 && options.allowMissing) {
      runs.push(abs); // an empty folder a search is about to fill
      continue;
    }
    if (inside.length === 0) {
      throw new ValidationError(
        `${p} is not a run folder: it holds no config.json or history.jsonl, and no folder inside it does (a run folder is what \`nasnet search --run DIR\` writes)`,
      );
    }
    parents.push(abs);
    runs.push(...inside);
  }
  return { runs: [...new Set(runs)], parents: [...new Set(parents)] };
}

/**
 * A URL-safe id for a run folder, unique among `taken`: the folder's name with characters other than
 * letters, digits, `.`, `_` and `-` replaced by `_`, then `-2`, `-3`, ... on a clash.
 */
export function runId(path: string, taken: ReadonlySet<string>): string {
  const base = basename(path).replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_') || 'run';
  let id = base;
  for (let k = 2; taken.has(id); k++) id = `${base}-${k}`;
  return id;
}

/** One record of `history.jsonl` and its 1-based line number. */
export interface HistoryLine {
  line: number;
  record: Record<string, unknown>;
}

/** What one {@link HistoryReader.read} found. */
export interface HistoryRead {
  /** Complete new records, in file order. */
  lines: HistoryLine[];
  /** Problems, each naming file and line (a corrupt line is skipped, not fatal). */
  warnings: string[];
  /** The file shrank or was replaced: everything read before is void and was read again. */
  reset: boolean;
}

/**
 * Reads `history.jsonl` incrementally: each {@link read} returns the records appended since the
 * previous one. A last line without its newline (being written) waits for the next read; a line
 * that is not a JSON object is reported and skipped; a file that shrank (replaced) is read again.
 *
 * @example
 * const reader = new HistoryReader('runs/x/history.jsonl');
 * for (const { line, record } of reader.read().lines) console.log(line, record.reward);
 */
export class HistoryReader {
  private offset = 0;
  private lineNo = 0;
  private ino = -1;

  constructor(readonly file: string) {}

  read(): HistoryRead {
    const out: HistoryRead = { lines: [], warnings: [], reset: false };
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch {
      if (this.offset > 0) this.restart(out);
      return out;
    }
    try {
      const st = fstatSync(fd);
      if (st.size < this.offset || (this.ino !== -1 && st.ino !== this.ino)) this.restart(out);
      this.ino = st.ino;
      if (st.size === this.offset) return out;
      const buf = Buffer.alloc(st.size - this.offset);
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, this.offset + got);
        if (n === 0) break;
        got += n;
      }
      const end = buf.lastIndexOf(0x0a, got - 1);
      if (end < 0) return out; // no complete line yet
      this.offset += end + 1;
      const name = basename(this.file);
      for (const text of buf.subarray(0, end).toString('utf8').split('\n')) {
        this.lineNo++;
        if (text.trim() === '') continue;
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (err) {
          out.warnings.push(`${name}:${this.lineNo}: not valid JSON (${(err as Error).message}); line skipped`);
          continue;
        }
        if (value === null || typeof value !== 'object' || Array.isArray(value)) {
          out.warnings.push(`${name}:${this.lineNo}: expected a JSON object (one child) but found ${Array.isArray(value) ? 'an array' : typeof value}; line skipped`);
          continue;
        }
        out.lines.push({ line: this.lineNo, record: value as Record<string, unknown> });
      }
      return out;
    } finally {
      closeSync(fd);
    }
  }

  private restart(out: HistoryRead): void {
    this.offset = 0;
    this.lineNo = 0;
    this.ino = -1;
    out.reset = true;
  }
}
