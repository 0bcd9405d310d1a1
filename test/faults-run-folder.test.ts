/**
 * Fault class "lost or repeated work" in a search's run folder: resume repairs a folder only where
 * the repair loses nothing (a torn last line is cut away, a missing newline added, and said so) and
 * refuses, naming the file, a folder whose files contradict each other or that is not a run folder.
 * The fuzzer over damaged run folders is test/fuzz-run-folders.test.ts.
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { RunDir } from '../lib/search/run-dir.js';
import { searchCells } from '../lib/search/search.js';
import type { HistoryEntry } from '../lib/search/types.js';
import { scriptedExecutor, scriptedSearch, stoppedRun } from './helpers/scripted-search.js';

const root = mkdtempSync(join(tmpdir(), 'nasnet-run-faults-'));

/** A run folder stopped after 4 of its 6 children (child 4 pending), copied fresh for each case. */
let finished = '';
let copyOfFinished: (name: string) => string;
beforeAll(async () => {
  finished = join(root, 'stopped');
  copyOfFinished = await stoppedRun(finished);
  expect(lines(finished)).toHaveLength(4);
});
const executor = scriptedExecutor;
const search = scriptedSearch;
const lines = (dir: string): HistoryEntry[] => new RunDir(dir).history();

let stderr: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  stderr = [];
});
function captureStderr(): void {
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr.push(String(chunk));
    return true;
  });
}

describe('resume repairs only what loses nothing', () => {
  it('a torn last line of history.jsonl is cut away (and said so); the next records and the next resume are sound', async () => {
    const dir = copyOfFinished('torn');
    const before = lines(dir);
    appendFileSync(join(dir, 'history.jsonl'), '{"id": 99, "accuracy": 0.');
    captureStderr();
    const r = await search(dir, true);
    expect(stderr.join('')).toMatch(/history\.jsonl:5: removed a torn last line of 25 bytes/);
    expect(r.history.slice(0, before.length)).toEqual(before);
    expect(new Set(r.history.map((h) => h.id)).size).toBe(6);
    // Before the repair, the record appended next was written onto the torn line: this resume failed.
    const again = await search(dir, true);
    expect(again.history).toEqual(r.history);
    expect(lines(dir)).toEqual(r.history);
  });

  it('a whole last line that lost only its newline is kept (the newline is added)', async () => {
    const dir = copyOfFinished('no-newline');
    const text = readFileSync(join(dir, 'history.jsonl'), 'utf8');
    writeFileSync(join(dir, 'history.jsonl'), text.slice(0, -1));
    captureStderr();
    const r = await search(dir, true);
    expect(stderr.join('')).toMatch(/history\.jsonl:4: the last line lacked its newline \(added\)/);
    expect(r.history).toHaveLength(6);
    expect(lines(dir).slice(0, 4)).toEqual(lines(finished));
  });

  it('a torn last line of proposals.jsonl is cut away too', async () => {
    const dir = copyOfFinished('torn-proposals');
    appendFileSync(join(dir, 'proposals.jsonl'), '{"id": 4, "geno');
    captureStderr();
    const r = await search(dir, true);
    expect(stderr.join('')).toMatch(/proposals\.jsonl:\d+: removed a torn last line/);
    expect(new Set(r.history.map((h) => h.id)).size).toBe(6);
    expect(() => new RunDir(dir).readLines('proposals.jsonl')).not.toThrow();
  });
});

describe('resume refuses a folder it cannot continue without losing or repeating work', () => {
  it('a folder that does not exist, or holds no config.json, is not resumed as a fresh search', async () => {
    const missing = join(root, 'never-created');
    await expect(search(missing, true)).rejects.toThrow(`run folder ${missing} does not exist: there is no search to resume`);
    expect(existsSync(missing)).toBe(false);
    const empty = join(root, 'empty');
    mkdirSync(empty);
    await expect(search(empty, true)).rejects.toThrow(`run folder ${empty} holds no config.json`);
    expect(existsSync(join(empty, 'config.json'))).toBe(false);
  });

  it('a folder without strategy.json but with history (a new strategy would issue the same ids)', async () => {
    const dir = copyOfFinished('no-strategy');
    rmSync(join(dir, 'strategy.json'));
    await expect(search(dir, true)).rejects.toThrow(/strategy\.json is missing but .*history\.jsonl records 4 children/);
    expect(lines(dir)).toHaveLength(4);
  });

  it('a child recorded twice, a child without a proposal, a strategy.json of another run', async () => {
    const twice = copyOfFinished('twice');
    const first = readFileSync(join(twice, 'history.jsonl'), 'utf8').split('\n')[0];
    appendFileSync(join(twice, 'history.jsonl'), `${first}\n`);
    await expect(search(twice, true)).rejects.toThrow(/history\.jsonl:5: child \d+ is recorded twice/);

    const orphan = copyOfFinished('orphan');
    writeFileSync(join(orphan, 'proposals.jsonl'), '');
    await expect(search(orphan, true)).rejects.toThrow(/history\.jsonl:1: child \d+ has no line in .*proposals\.jsonl/);

    const older = copyOfFinished('older-strategy');
    const state = JSON.parse(readFileSync(join(older, 'strategy.json'), 'utf8')) as { nextId: number };
    state.nextId = 2;
    writeFileSync(join(older, 'strategy.json'), JSON.stringify(state));
    await expect(search(older, true)).rejects.toThrow(/child \d+ was never issued by .*strategy\.json \(its next id is 2\)/);
  });

  it('a config.json that is not an object, of another version, or with a bad field names the file and the field', async () => {
    const cases: [(c: Record<string, unknown>) => unknown, RegExp][] = [
      (() => [() => [1, 2], /config\.json: expected object for the search configuration but received \[1,2\]/])(),
      [(c) => ({ ...c, version: 7 }), /config\.json: version is 7; this nasnet reads version 1/],
      [(c) => ({ ...c, children: -2 }), /config\.json: expected positive integer for children but received -2/],
      [(c) => ({ ...c, proxy: { ...(c.proxy as object), epochs: 'x' } }), /config\.json: expected positive integer for proxy\.epochs but received "x"/],
      [(c) => ({ ...c, strategy: 'magic' }), /config\.json: expected one of .* for strategy but received "magic"/],
    ];
    for (const [edit, message] of cases) {
      const dir = copyOfFinished('bad-config');
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(dir, 'config.json'), JSON.stringify(edit(config)));
      await expect(search(dir, true)).rejects.toThrow(message);
      expect(lines(dir)).toEqual(lines(finished));
    }
  });
});

describe('a new search checks its options before it creates the folder', () => {
  it('negative limits, a zero learning rate, unknown constraints', async () => {
    const cases: [Parameters<typeof searchCells>[0], string][] = [
      [{ proxy: { maxBatchesPerEpoch: -1 } }, 'searchCells: expected non-negative integer for proxy.maxBatchesPerEpoch but received -1'],
      [{ proxy: { lr: 0 } }, 'searchCells: expected finite number > 0 for proxy.lr but received 0'],
      [{ proxy: { weightDecay: -1 } }, 'searchCells: expected finite number >= 0 for proxy.weightDecay but received -1'],
      [{ constraints: { maxParams: -5 } }, 'Expected positive integer for constraints.maxParams but received -5'],
      [{ constraints: { maxParms: 5 } as never }, "Unknown key 'maxParms' in constraints"],
    ];
    for (const [options, message] of cases) {
      const runDir = join(root, `bad-options-${message.length}`);
      await expect(searchCells({ ...options, runDir, children: 2, executor: { kind: 'custom', executor: executor() } })).rejects.toThrow(message);
      expect(existsSync(runDir)).toBe(false);
    }
  });
});
