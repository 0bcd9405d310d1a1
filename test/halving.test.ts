/**
 * Successive halving (ASHA, stopping form): rung budgets, the promotion rule, the loop with a
 * scripted executor, and a search killed with SIGKILL and resumed.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PAPER_PROXY } from '../lib/search/config.js';
import type { ChildExecutor } from '../lib/search/executor.js';
import { promotes, type RungRecord, resolveSchedule, rungProxies } from '../lib/search/halving.js';
import { RunDir } from '../lib/search/run-dir.js';
import { searchCells } from '../lib/search/search.js';
import type { ChildJob, ChildResult } from '../lib/search/types.js';
import { expectValidLedger } from './helpers/halving-ledger.js';

const root = mkdtempSync(join(tmpdir(), 'nasnet-halving-'));
const proxy = { ...PAPER_PROXY, epochs: 1, batchSize: 32 };

describe('rung budgets and the promotion rule', () => {
  it('rung k trains T / eta^(rungs - 1 - k) steps in whole batches; the top rung is the proxy itself', () => {
    const rs = rungProxies(proxy, { kind: 'halving', rungs: 3, eta: 3 }, 2500); // 78 batches of 32
    expect(rs.map((p) => [p.epochs, p.maxBatchesPerEpoch])).toEqual([
      [1, 9],
      [1, 26],
      [1, 0],
    ]);
    expect(rs[2]).toBe(proxy);
    const long = rungProxies({ ...proxy, epochs: 9, maxBatchesPerEpoch: 10 }, { kind: 'halving', rungs: 3, eta: 3 }, 2500);
    expect(long.map((p) => [p.epochs, p.maxBatchesPerEpoch])).toEqual([
      [1, 10],
      [3, 10],
      [9, 10],
    ]);
  });

  it('refuses a schedule whose first rung trains less than one batch', () => {
    expect(() => rungProxies({ ...proxy, maxBatchesPerEpoch: 8 }, { kind: 'halving', rungs: 3, eta: 3 }, 2500)).toThrow(
      'schedule: rung 0 of 3 rungs with eta 3 would train 0.89 batches (the top rung trains 8); use fewer rungs, a smaller eta or a larger proxy budget',
    );
    expect(() => resolveSchedule({ kind: 'halving', eta: 1 })).toThrow('Expected integer >= 2 for schedule.eta but received 1 of type number');
    expect(() => resolveSchedule({ kind: 'hyperband' } as never)).toThrow(`Expected 'plain' or 'halving' for schedule.kind but received "hyperband"`);
  });

  it('a result continues when it ranks within the top ceil(n / eta) of its rung', () => {
    expect(promotes([], 0.1, 3)).toBe(true);
    expect(promotes([0.5], 0.4, 3)).toBe(false);
    expect(promotes([0.5], 0.6, 3)).toBe(true);
    expect(promotes([0.5, 0.7], 0.6, 3)).toBe(false);
    expect(promotes([0.1, 0.2, 0.3, 0.7], 0.6, 3)).toBe(true); // 2nd of 5: ceil(5 / 3) = 2
    expect(promotes([0.1, 0.2, 0.3, 0.7, 0.8], 0.6, 3)).toBe(false); // 3rd of 6: 6 / 3 = 2
    expect(promotes([0.5, 0.5], 0.5, 2)).toBe(true); // ties are not better
  });
});

/** A scripted executor: accuracy grows with the budget, ordered by the genotype's hash. */
function scripted(concurrency = 3): ChildExecutor & { jobs: ChildJob[] } {
  const jobs: ChildJob[] = [];
  return {
    jobs,
    concurrency,
    async submit(job) {
      jobs.push(job);
      await new Promise((r) => setTimeout(r, 1 + (job.id % 4)));
      const quality = (Number.parseInt(job.hash.slice(0, 6), 16) % 1000) / 1000;
      const budget = job.proxy.maxBatchesPerEpoch === 0 ? 78 : job.proxy.epochs * job.proxy.maxBatchesPerEpoch;
      const accuracy = 0.1 + 0.8 * quality * (0.5 + (0.5 * budget) / 78);
      const r: ChildResult = { accuracy, curve: [accuracy], params: 10, multAdds: 100, seconds: budget / 100, diverged: false };
      return job.id === 7 ? { ...r, error: 'out of memory' } : r;
    },
    async close() {},
  };
}

describe('searchCells with successive halving', () => {
  it('climbs rungs by the rule, rewards each child at its highest rung, and trains each rung once', async () => {
    const exec = scripted();
    const runDir = join(root, 'scripted');
    const r = await searchCells({ runDir, strategy: 'random', children: 30, proxy, seed: 4, schedule: { kind: 'halving', rungs: 3, eta: 3 }, executor: { kind: 'custom', executor: exec } });
    expect(r.history).toHaveLength(30);
    const ledger = expectValidLedger(runDir, 3, 3);
    const reached = [0, 1, 2].map((k) => ledger.filter((x) => x.rung === k).length);
    expect(reached[0]).toBe(30);
    expect(reached[1]).toBeGreaterThan(0);
    expect(reached[1]).toBeLessThan(30);
    expect(reached[2]).toBeGreaterThan(0);
    expect(reached[2]).toBeLessThanOrEqual(reached[1]!);
    // One job per rung reached, with that rung's budget.
    const budgets = rungProxies(proxy, { kind: 'halving', rungs: 3, eta: 3 }, 2500);
    expect(exec.jobs).toHaveLength(ledger.length);
    for (const rec of ledger) {
      expect(exec.jobs.filter((j) => j.id === rec.id && JSON.stringify(j.proxy) === JSON.stringify(budgets[rec.rung])).length).toBe(1);
    }
    const failed = r.history.find((h) => h.id === 7)!;
    expect([failed.error, failed.reward, failed.rung]).toEqual(['out of memory', 0, 0]);
    // Children that reached the top rung outscore the rest (more training, and they were the best).
    const mean = (k: number) => {
      const xs = r.history.filter((h) => h.rung === k).map((h) => h.reward);
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    expect(r.best.rung).toBe(2);
    expect(mean(2)).toBeGreaterThan(mean(0));
  });

  it('stops new children and promotions when maxSeconds runs out', async () => {
    const exec = scripted(2);
    const r = await searchCells({ runDir: join(root, 'timed'), strategy: 'random', children: 100000, proxy, maxSeconds: 3, schedule: { kind: 'halving' }, executor: { kind: 'custom', executor: exec } });
    expect(r.stopped).toBe('time');
    expect(r.history.length).toBeGreaterThan(2);
    expect(r.history.length).toBeLessThan(100000);
    expectValidLedger(join(root, 'timed'), 3, 3);
  });

  it('killed with SIGKILL and resumed: no rung lost or trained twice, exactly the requested children', async () => {
    const runDir = join(root, 'killed');
    const children = 7;
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/search-child.ts', runDir, String(children), 'new', 'halving'], { stdio: 'ignore' });
    const run = new RunDir(runDir);
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        const n = existsSync(run.file('rungs.jsonl')) ? run.readLines<RungRecord>('rungs.jsonl').length : 0;
        if (n >= 4) {
          clearInterval(t);
          child.kill('SIGKILL');
          resolve();
        }
      }, 50);
      child.on('exit', (code) => {
        clearInterval(t);
        if (code !== null) reject(new Error(`search finished (code ${code}) before it could be killed`));
      });
    });
    await new Promise((r) => child.once('exit', r));
    const before = run.readLines<RungRecord>('rungs.jsonl');
    expect(run.history().length).toBeLessThan(children);
    const r = await searchCells({ runDir, resume: true, executor: { kind: 'local', isolation: 'inline' } });
    expect(r.history).toHaveLength(children);
    expect(new Set(r.history.map((h) => h.id)).size).toBe(children);
    const after = expectValidLedger(runDir, 2, 3);
    expect(after.slice(0, before.length)).toEqual(before);
    for (const h of r.history) expect(h.error).toBeUndefined();
  });
});
