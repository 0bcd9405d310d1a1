import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { genotypeHash } from '../lib/cells/genotype.js';
import { NASNET_A } from '../lib/cells/genotypes.js';
import { createStrategy, type StrategyState } from '../lib/controller/create-strategy.js';
import type { SearchStrategy } from '../lib/controller/strategy.js';
import type { ChildExecutor } from '../lib/search/executor.js';
import { RunDir } from '../lib/search/run-dir.js';
import { searchCells } from '../lib/search/search.js';
import type { ChildJob, ChildResult } from '../lib/search/types.js';
import { TINY_PROXY } from './helpers/tiny-proxy.js';

const root = mkdtempSync(join(tmpdir(), 'nasnet-search-'));

/** An executor with a scripted trainer that records what it was asked to train. */
function scripted(trainer: (job: ChildJob) => ChildResult): ChildExecutor & { jobs: ChildJob[] } {
  const jobs: ChildJob[] = [];
  return {
    jobs,
    concurrency: 2,
    async submit(job) {
      jobs.push(job);
      await new Promise((r) => setTimeout(r, 1 + (job.id % 3)));
      return trainer(job);
    },
    async close() {},
  };
}

const ok = (accuracy: number): ChildResult => ({ accuracy, curve: [accuracy], params: 10, multAdds: 100, seconds: 0.01, diverged: false });

describe('searchCells', () => {
  it('runs a real search end to end with worker processes and writes a usable run folder', async () => {
    const runDir = join(root, 'real');
    const r = await searchCells({ runDir, strategy: 'random', children: 3, proxy: TINY_PROXY, concurrency: 1, seed: 1 });
    expect(r.history).toHaveLength(3);
    for (const h of r.history) {
      expect(h.error).toBeUndefined();
      expect(h.reward).toBeGreaterThanOrEqual(0);
      expect(h.reward).toBeLessThanOrEqual(1);
      expect(h.curve).toHaveLength(1);
      expect(h.params).toBeGreaterThan(0);
    }
    expect(r.best.reward).toBe(Math.max(...r.history.map((h) => h.reward)));
    for (const f of ['config.json', 'history.jsonl', 'strategy.json', 'best.json', 'reward.svg', 'best-normal.svg', 'best-reduction.svg', 'top.txt']) {
      expect(existsSync(join(runDir, f)), f).toBe(true);
    }
    expect(readFileSync(join(runDir, 'reward.svg'), 'utf8')).toContain('<polyline');
    expect(JSON.parse(readFileSync(join(runDir, 'best.json'), 'utf8')).genotype).toEqual(r.best.genotype);
  });

  it('does not train a canonical duplicate twice, records errors and divergence, and goes on', async () => {
    // A strategy that proposes NASNet-A three times, then random children.
    const inner = createStrategy('random', { seed: 2 });
    let n = 0;
    const original = new Map<number, ChildJob['genotype']>();
    const strategy: SearchStrategy<StrategyState> = {
      name: 'random',
      propose(k) {
        const out = inner.propose(k);
        for (const p of out) original.set(p.id, p.genotype);
        return out.map((p) => (n++ < 3 ? { ...p, genotype: NASNET_A } : p));
      },
      observe: (r) => inner.observe(r.map((o) => ({ ...o, genotype: original.get(o.id)! }))),
      state: () => inner.state(),
      load: (s) => inner.load(s),
    };
    const exec = scripted((job) => {
      if (job.id === 4) return { ...ok(0), error: 'out of memory' };
      if (job.id === 5) return { ...ok(0), diverged: true };
      return ok(0.5 + job.id / 100);
    });
    const r = await searchCells({ runDir: join(root, 'dups'), strategy, children: 8, executor: { kind: 'custom', executor: exec } });
    expect(r.history).toHaveLength(8);
    const nasHash = genotypeHash(NASNET_A);
    expect(exec.jobs.filter((j) => j.hash === nasHash)).toHaveLength(1);
    const dups = r.history.filter((h) => h.duplicateOf !== undefined);
    expect(dups).toHaveLength(2);
    for (const d of dups) expect(d.reward).toBe(r.history.find((h) => h.id === d.duplicateOf)!.reward);
    expect(r.history.find((h) => h.id === 4)!.error).toBe('out of memory');
    expect(r.history.find((h) => h.id === 4)!.reward).toBe(0);
    expect(r.history.find((h) => h.id === 5)!.diverged).toBe(true);
    expect(r.history.find((h) => h.id === 5)!.reward).toBe(0);
  });

  it('rejects children over the constraints before training them', async () => {
    const exec = scripted(() => ok(1));
    const r = await searchCells({
      runDir: join(root, 'constrained'),
      strategy: 'random',
      children: 4,
      proxy: TINY_PROXY,
      constraints: { maxParams: 10 },
      executor: { kind: 'custom', executor: exec },
    });
    expect(exec.jobs).toHaveLength(0);
    for (const h of r.history) {
      expect(h.rejected).toMatch(/^params \d+ > maxParams 10$/);
      expect(h.reward).toBe(0);
    }
  });

  it('refuses to overwrite a run folder without resume', async () => {
    await expect(searchCells({ runDir: join(root, 'constrained'), children: 1 })).rejects.toThrow(/already holds a search: pass resume: true/);
  });

  it('loses no finished child when killed with SIGKILL, and ends with exactly the requested children when resumed', async () => {
    const runDir = join(root, 'killed');
    const children = 6;
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/search-child.ts', runDir, String(children)], { stdio: 'ignore' });
    const run = new RunDir(runDir);
    const before = await new Promise<number>((resolve, reject) => {
      const t = setInterval(() => {
        const n = existsSync(run.file('history.jsonl')) ? run.history().length : 0;
        if (n >= 2) {
          clearInterval(t);
          child.kill('SIGKILL');
          resolve(n);
        }
      }, 50);
      child.on('exit', (code) => {
        clearInterval(t);
        if (code !== null) reject(new Error(`search finished (code ${code}) before it could be killed`));
      });
    });
    await new Promise((r) => child.once('exit', r));
    const survived = run.history();
    expect(survived.length).toBeGreaterThanOrEqual(before);
    expect(survived.length).toBeLessThan(children);
    const r = await searchCells({ runDir, resume: true });
    expect(r.history).toHaveLength(children);
    expect(new Set(r.history.map((h) => h.id)).size).toBe(children);
    expect(r.history.slice(0, survived.length)).toEqual(survived);
    expect(run.history()).toHaveLength(children);
  });
});
