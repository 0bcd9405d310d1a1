/**
 * The weight-sharing mode end to end: rounds of shared training and scoring, the final scoring and
 * standalone retraining, and exact resume after SIGKILL (in the training phase and in the scoring
 * phase) against an uninterrupted run.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createStrategy } from '../lib/controller/create-strategy.js';
import { genotypeToDecisions } from '../lib/controller/decisions.js';
import type { EvolutionState } from '../lib/controller/evolution.js';
import type { SearchStrategy } from '../lib/controller/strategy.js';
import { RunDir } from '../lib/search/run-dir.js';
import { searchCells } from '../lib/search/search.js';
import type { HistoryEntry } from '../lib/search/types.js';
import { readCheckpoint } from '../lib/train/checkpoint.js';
import { TINY_PROXY, TINY_SHARED } from './helpers/tiny-proxy.js';

const root = mkdtempSync(join(tmpdir(), 'nasnet-shared-'));

/** Runs test/helpers/shared-search-child.ts; kills it with SIGKILL once `until` holds (or lets it finish). */
function runChild(runDir: string, resume: boolean, until?: (run: RunDir) => boolean): Promise<'killed' | 'finished'> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/shared-search-child.ts', runDir, resume ? 'resume' : 'new'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, OMP_NUM_THREADS: '1' }, // the same thread count in every run: bit-identical results
  });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const run = new RunDir(runDir);
  return new Promise((resolve, reject) => {
    const t = until
      ? setInterval(() => {
          if (until(run)) {
            clearInterval(t);
            proc.kill('SIGKILL');
          }
        }, 20)
      : undefined;
    proc.on('exit', (code, signal) => {
      if (t) clearInterval(t);
      if (signal === 'SIGKILL') resolve('killed');
      else if (code === 0 && !until) resolve('finished');
      else reject(new Error(`shared search exited with ${signal ?? code} ${until ? 'before it could be killed' : ''}: ${err}`));
    });
  });
}

const historyLength = (run: RunDir) => (existsSync(run.file('history.jsonl')) ? run.history().length : 0);
const comparable = (h: HistoryEntry) => ({ id: h.id, hash: h.hash, reward: h.reward, accuracy: h.accuracy, round: h.round, index: h.index });

describe('searchCells({ mode: "shared" })', () => {
  it('trains shared weights, scores children for the strategy, then retrains the best standalone', async () => {
    const runDir = join(root, 'e2e');
    const r = await searchCells({ runDir, mode: 'shared', strategy: 'ppo', strategyOptions: { updateEvery: 4 }, children: 8, proxy: TINY_PROXY, shared: TINY_SHARED, executor: { kind: 'local', isolation: 'inline' }, seed: 3 });
    expect(r.history).toHaveLength(8);
    for (const [i, h] of r.history.entries()) {
      expect(h.scoredBy).toBe('shared');
      expect(h.round).toBe(Math.floor(i / 4));
      expect(h.reward).toBe(h.accuracy);
      expect(h.accuracy * 32).toBe(Math.round(h.accuracy * 32)); // a count of correct images out of 32
      expect(h.params).toBeGreaterThan(0);
    }
    const run = new RunDir(runDir);
    const finals = run.readLines<{ id: number; hash: string; score: number; images: number }>('final.jsonl');
    expect(finals).toHaveLength(3);
    expect(new Set(finals.map((f) => f.hash)).size).toBe(3);
    for (const f of finals) expect(f.images).toBe(64);
    // The retrained children are the best two by final score, trained standalone: the reported result.
    const byScore = [...finals].sort((a, b) => b.score - a.score || a.id - b.id).slice(0, 2);
    expect(r.retrained!.map((e) => e.id).sort()).toEqual(byScore.map((f) => f.id).sort());
    for (const e of r.retrained!) {
      expect(e.scoredBy).toBe('standalone');
      expect(e.sharedScore).toBe(finals.find((f) => f.id === e.id)!.score);
      expect(e.curve).toHaveLength(1);
      expect(e.error).toBeUndefined();
    }
    expect(r.best).toEqual(r.retrained![0]);
    expect(r.best.reward).toBe(Math.max(...r.retrained!.map((e) => e.reward)));
    expect(JSON.parse(readFileSync(join(runDir, 'best.json'), 'utf8'))).toMatchObject({ id: r.best.id, scoredBy: 'standalone', reward: r.best.reward });
    expect(r.shared!.steps).toBe(10);
    expect(r.shared!.rounds).toBe(2);
    expect(r.shared!.cache.misses).toBeGreaterThan(0);
    expect(r.shared!.cache.compileMs).toBeGreaterThan(0);
    // The strategy observed every scored child; its state travels in the checkpoint.
    const meta = readCheckpoint(join(runDir, 'shared.safetensors')).meta;
    expect(meta.position).toEqual({ phase: 'final', round: 2, step: 10 });
    expect((meta.strategy as { observed: number; updates: number }).observed).toBe(8);
    expect((meta.strategy as { updates: number }).updates).toBe(2);
    // The shared mode's controller is ENAS's where the caller set nothing (updateEvery was set).
    expect((meta.strategy as { config: Record<string, unknown> }).config).toMatchObject({
      learningRate: 0.0035,
      entropyWeight: 0.0001,
      baselineDecay: 0.99,
      updateEvery: 4,
      controller: { hiddenSize: 64, temperature: 5, tanhConstant: 1.1 },
    });
    for (const f of ['config.json', 'history.jsonl', 'proposals.jsonl', 'final.jsonl', 'retrain.jsonl', 'shared.json', 'best.json', 'reward.svg', 'top.txt']) {
      expect(existsSync(join(runDir, f)), f).toBe(true);
    }
    expect(readFileSync(join(runDir, 'top.txt'), 'utf8')).toMatch(/^children retrained standalone/);
  });

  it('runs evolution with shared weights: a population fitted to the children, mutants scored, and retrained standalone', async () => {
    const runDir = join(root, 'evolution');
    // 12 children: population 4, tournaments of 2 (sizedStrategyOptions), so the last two rounds score mutants.
    const r = await searchCells({ runDir, mode: 'shared', strategy: 'evolution', children: 12, proxy: TINY_PROXY, shared: { ...TINY_SHARED, retrainTop: 1 }, executor: { kind: 'local', isolation: 'inline' }, seed: 5 });
    expect(r.history).toHaveLength(12);
    expect(r.shared!.rounds).toBe(3);
    const state = readCheckpoint(join(runDir, 'shared.safetensors')).meta.strategy as EvolutionState;
    expect(state.config).toMatchObject({ populationSize: 4, sampleSize: 2 });
    expect(state.observed).toBe(12);
    expect(state.population.map((m) => m.id)).toEqual([8, 9, 10, 11]);
    const decisions = [...r.history].sort((a, b) => a.id - b.id).map((h) => genotypeToDecisions(h.genotype));
    const oneApart = (x: number[], y: number[]) => x.filter((v, i) => v !== y[i]).length === 1;
    // Each child after the first four is a one-decision mutant of an earlier child (a population member).
    for (let i = 4; i < 12; i++) expect(decisions.slice(0, i).some((e) => oneApart(decisions[i]!, e)), `child ${i}`).toBe(true);
    expect(r.retrained).toHaveLength(1);
    expect(r.best.scoredBy).toBe('standalone');
  });

  it('killed with SIGKILL in the training and in the scoring phase, resumes to exactly the run that was never killed', async () => {
    const ref = join(root, 'reference');
    const killed = join(root, 'killed');
    const reference = runChild(ref, false);
    expect(await runChild(killed, false, (run) => historyLength(run) >= 2)).toBe('killed'); // while scoring round 0
    const afterFirst = historyLength(new RunDir(killed));
    expect(afterFirst).toBeLessThan(12);
    expect(await runChild(killed, true, (run) => historyLength(run) >= 4)).toBe('killed'); // while training round 1
    expect(await runChild(killed, true, (run) => historyLength(run) >= 9)).toBe('killed'); // while scoring round 2
    expect(await runChild(killed, true)).toBe('finished');
    expect(await reference).toBe('finished');
    const a = new RunDir(ref);
    const b = new RunDir(killed);
    expect(b.history().map(comparable)).toEqual(a.history().map(comparable));
    const ids = b.readLines<{ id: number }>('proposals.jsonl').map((p) => p.id);
    expect(ids).toEqual([...new Set(ids)]);
    expect(b.readLines('final.jsonl')).toEqual(a.readLines('final.jsonl'));
    const retrained = (r: RunDir) => r.readLines<HistoryEntry>('retrain.jsonl').map((e) => [e.id, e.accuracy]).sort();
    expect(retrained(b)).toEqual(retrained(a));
    // The shared weights at the end are the same, bit for bit. (A tensor only scoring ever read sits
    // at its initial value in the run that created it and is absent from the other, which would
    // create it with the same value from the seed and its name.)
    const wa = readCheckpoint(a.file('shared.safetensors')).tensors;
    const wb = readCheckpoint(b.file('shared.safetensors')).tensors;
    const trained = [...wa.keys()].filter((n) => n.endsWith('#momentum'));
    expect([...wb.keys()].filter((n) => n.endsWith('#momentum')).sort()).toEqual(trained.sort());
    for (const m of trained) expect(wb.has(m.replace('#momentum', '')), m).toBe(true);
    let common = 0;
    for (const [name, t] of wa) {
      if (!wb.has(name)) continue;
      expect(wb.get(name)!.data, name).toEqual(t.data);
      common++;
    }
    expect(common).toBeGreaterThan(2 * trained.length);
   }, 600_000); // five processes, each loading the data set and compiling plans: minutes on a busy machine

  it('needs a strategy that can sample, and a validation split as large as a score batch', async () => {
    const inner = createStrategy('random', { seed: 1 });
    const strategy: SearchStrategy = { name: 'random', propose: (k) => inner.propose(k), observe: (r) => inner.observe(r), state: () => inner.state(), load: (s) => inner.load(s as never) };
    const base = { mode: 'shared' as const, children: 4, proxy: TINY_PROXY, executor: { kind: 'local' as const, isolation: 'inline' as const } };
    await expect(searchCells({ ...base, runDir: join(root, 'nosample'), strategy, shared: TINY_SHARED })).rejects.toThrow(
      "strategy 'random' has no sample(): the shared mode trains its weights on children sampled from the strategy",
    );
    await expect(searchCells({ ...base, runDir: join(root, 'bigscore'), shared: { ...TINY_SHARED, scoreImages: 600 } })).rejects.toThrow(
      'shared.scoreImages 600 is larger than the validation split of fashion-mnist-mini (500 images)',
    );
    await expect(searchCells({ ...base, runDir: join(root, 'both'), schedule: { kind: 'halving' } })).rejects.toThrow(/^schedule: successive halving budgets standalone children/);
  });
});
