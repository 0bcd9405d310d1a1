/**
 * Fuzzer over run folders (issue 16, "a fuzzer over run folders"): a search stopped after 4 of its 6
 * children, then damaged at random, one to three times: history.jsonl or proposals.jsonl truncated
 * at any byte, a garbage line (text, binary, a JSON value of the wrong kind, an entry with mistyped
 * fields) put anywhere, a line duplicated, a line's id changed; config.json or strategy.json garbled,
 * emptied, replaced by JSON of the wrong kind, by a folder, or deleted; best.json damaged. Every
 * resume either ends with exactly the requested children, each id once, every surviving record kept
 * as it was, or is a ValidationError naming a file of the folder: never a TypeError, never a fresh
 * search in place of the old one, never a hang (each case is timed). Fixed seed (in the title).
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ValidationError } from '../lib/errors.js';
import { RunDir } from '../lib/search/run-dir.js';
import type { HistoryEntry } from '../lib/search/types.js';
import { scriptedSearch, stoppedRun } from './helpers/scripted-search.js';

const SEED = 1616;
const BOUND_MS = 10_000;
const root = mkdtempSync(join(tmpdir(), 'nasnet-fuzz-runs-'));
let copyOfStopped: (name: string) => string;
beforeAll(async () => {
  copyOfStopped = await stoppedRun(join(root, 'stopped'));
});
afterEach(() => vi.restoreAllMocks());

const FILES = ['config.json', 'strategy.json', 'history.jsonl', 'proposals.jsonl', 'best.json'] as const;
const LINES = ['history.jsonl', 'proposals.jsonl'] as const;

type Damage =
  | { kind: 'truncate'; file: (typeof LINES)[number]; at: number }
  | { kind: 'insert'; file: (typeof LINES)[number]; at: number; line: string }
  | { kind: 'duplicate'; file: (typeof LINES)[number]; at: number }
  | { kind: 'reid'; at: number; id: unknown }
  | { kind: 'garble'; file: (typeof FILES)[number]; at: number; char: string }
  | { kind: 'replace'; file: (typeof FILES)[number]; text: string }
  | { kind: 'folder' | 'delete'; file: (typeof FILES)[number] };

const garbageLine = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom('null', '5', '"x"', '[]', '{}', '{"id":"3"}', '{"id":-1}', '{"id":1.5}', '{"id":2,"accuracy":"high"}', '{"id":99,"genotype":null}', '\u0000\u0001\u00ff', '{"id":4'),
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
);
const damage: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), file: fc.constantFrom(...LINES), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), file: fc.constantFrom(...LINES), at: fc.nat(), line: garbageLine.map((l) => l.replace(/\n/g, ' ')) }),
  fc.record({ kind: fc.constant('duplicate' as const), file: fc.constantFrom(...LINES), at: fc.nat() }),
  fc.record({ kind: fc.constant('reid' as const), at: fc.nat(), id: fc.oneof(fc.integer({ min: -2, max: 8 }), fc.constantFrom('1', null, 2.5, 1e308)) }),
  fc.record({ kind: fc.constant('garble' as const), file: fc.constantFrom(...FILES), at: fc.nat(), char: fc.constantFrom('#', '}', '"', '\u0000', '9', ' ') }),
  fc.record({ kind: fc.constant('replace' as const), file: fc.constantFrom(...FILES), text: fc.oneof(fc.constantFrom('', 'null', '[]', '7', '"x"', '{}', '{"version":1}'), fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v))) }),
  fc.record({ kind: fc.constantFrom('folder' as const, 'delete' as const), file: fc.constantFrom(...FILES) }),
);

function apply(dir: string, d: Damage): void {
  const path = (f: string) => join(dir, f);
  if (d.kind !== 'reid' && (!existsSync(path(d.file)) || !statSync(path(d.file)).isFile())) return; // gone, or a folder by now
  if (d.kind === 'reid' || d.kind === 'insert' || d.kind === 'duplicate' || d.kind === 'truncate' || d.kind === 'garble') {
    const file = d.kind === 'reid' ? 'history.jsonl' : d.file;
    if (!existsSync(path(file)) || !statSync(path(file)).isFile()) return;
    const text = readFileSync(path(file), 'utf8');
    if (text.length === 0) return;
    const lines = text.split('\n');
    if (d.kind === 'truncate') truncateSync(path(file), d.at % (Buffer.byteLength(text) + 1));
    if (d.kind === 'insert') writeFileSync(path(file), [...lines.slice(0, d.at % lines.length), d.line, ...lines.slice(d.at % lines.length)].join('\n'));
    if (d.kind === 'duplicate') {
      const whole = lines.filter(Boolean);
      if (whole.length) appendFileSync(path(file), `${text.endsWith('\n') ? '' : '\n'}${whole[d.at % whole.length]}\n`);
    }
    if (d.kind === 'reid') {
      const k = d.at % lines.length;
      try {
        const e = JSON.parse(lines[k]!) as Record<string, unknown>;
        e.id = d.id;
        lines[k] = JSON.stringify(e);
        writeFileSync(path(file), lines.join('\n'));
      } catch {
        // a line that is not JSON any more
      }
    }
    if (d.kind === 'garble') {
      const i = d.at % text.length;
      writeFileSync(path(file), `${text.slice(0, i)}${d.char}${text.slice(i + 1)}`);
    }
    return;
  }
  if (d.kind === 'replace') writeFileSync(path(d.file), d.text);
  if (d.kind === 'delete' || d.kind === 'folder') rmSync(path(d.file), { recursive: true, force: true });
  if (d.kind === 'folder') mkdirSync(path(d.file));
}

/** The lines a reader sees (a torn last line skipped), or [] when the file cannot be read as lines. */
function safeLines(dir: string): HistoryEntry[] {
  try {
    return new RunDir(dir).history();
  } catch {
    return [];
  }
}

describe('fuzzer: random damage to a stopped run folder', () => {
  it(`every resume ends exactly or is a ValidationError naming a file of the folder (fast-check seed ${SEED}, 150 folders)`, async () => {
    let n = 0;
    let resumed = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(damage, { minLength: 1, maxLength: 3 }), async (damages) => {
        const dir = copyOfStopped(`fuzz-${n++}`);
        for (const d of damages) apply(dir, d);
        const survived = safeLines(dir);
        vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
        const t0 = performance.now();
        try {
          const r = await scriptedSearch(dir, true);
          resumed++;
          expect(r.history).toHaveLength(6);
          expect(new Set(r.history.map((h) => h.id)).size).toBe(6);
          expect(r.history.slice(0, survived.length)).toEqual(survived);
          // What was written is what a later resume reads: the folder is sound again.
          expect(new RunDir(dir).history()).toEqual(r.history);
        } catch (err) {
          refused++;
          if (!(err instanceof ValidationError)) {
            throw new Error(`resume after ${JSON.stringify(damages)} threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
          }
          expect(err.message).toContain(dir);
          expect(err.message).toMatch(/config\.json|strategy\.json|history\.jsonl|proposals\.jsonl|best\.json|run folder/);
        } finally {
          vi.restoreAllMocks();
          expect(performance.now() - t0, 'bounded').toBeLessThan(BOUND_MS);
        }
      }),
      { numRuns: 150, seed: SEED },
    );
    expect(resumed).toBeGreaterThan(10);
    expect(refused).toBeGreaterThan(30);
  }, 120_000);
});
