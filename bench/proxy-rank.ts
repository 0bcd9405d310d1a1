/**
 * How well does a proxy rank cells? Uniformly random cells, each trained at the search-quality
 * measurement's evaluation scale (bench/quality-scale.ts) and at one or more proxies; Kendall τ between
 * every proxy's accuracies and the evaluation's, and the evaluation accuracy of the cell each proxy
 * would pick. A search can only beat random search by as much as its proxy ranks cells.
 *
 *   npx tsx bench/proxy-rank.ts [--cells 12] [--seed 7] [--proxies 100@8,300@8,100@12]
 *       [--proxy-seeds 2] [--eval-repeats 3] [--dataset fashion-mnist] [--out runs/proxy-rank] [--quick]
 *
 * A proxy `B@F` is the measurement's proxy (N = 1, batches of 32, lr 0.05, validation on 1,000
 * images) with B training batches and F filters; each is trained `--proxy-seeds` times per cell (from
 * different initializations and batch orders) and is also reported as the mean over those seeds.
 * `--eval-repeats` cells are evaluated a second time from another initialization: the evaluation's
 * own noise. The parameter count is reported as a proxy too (it costs nothing).
 * Writes under --out: results.jsonl (every training, appended as it finishes: the same command
 * continues where it stopped), rank.md and rank.json.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { genotypeHash } from '../lib/cells/genotype.js';
import { createStrategy } from '../lib/controller/create-strategy.js';
import { cachedDataset, trainChild } from '../lib/search/child.js';
import { kendallTau } from '../lib/search/rank.js';
import { qualityEval, qualityProxy, trainAtEvalScale } from './quality-scale.js';

const { values: a } = parseArgs({
  options: {
    cells: { type: 'string', default: '12' },
    seed: { type: 'string', default: '7' },
    proxies: { type: 'string' },
    'proxy-seeds': { type: 'string', default: '2' },
    'eval-repeats': { type: 'string', default: '3' },
    dataset: { type: 'string', default: 'fashion-mnist' },
    out: { type: 'string', default: 'runs/proxy-rank' },
    quick: { type: 'boolean', default: false },
  },
});
const quick = a.quick!;
const cells = Number(a.cells);
const proxySeeds = Number(a['proxy-seeds']);
const evalRepeats = Number(a['eval-repeats']);
const BASE = qualityProxy(quick);
const EVAL = qualityEval(quick);
const proxies = (a.proxies ?? (quick ? '10@8,30@8' : '100@8,300@8,100@12')).split(',').map((spec) => {
  const m = /^(\d+)@(\d+)$/.exec(spec);
  if (!m) throw new Error(`--proxies: '${spec}' is not BATCHES@FILTERS (e.g. 100@8)`);
  return { label: spec, config: { ...BASE, maxBatchesPerEpoch: Number(m[1]), filters: Number(m[2]) } };
});
for (const [name, v] of [['cells', cells], ['proxy-seeds', proxySeeds], ['eval-repeats', evalRepeats]] as const) {
  if (!Number.isInteger(v) || v < (name === 'eval-repeats' ? 0 : 1)) throw new Error(`--${name}: expected a positive integer but received ${v}`);
}

interface Result {
  cell: number;
  hash: string;
  /** 'eval' or a proxy's label. */
  what: string;
  seed: number;
  accuracy: number;
  seconds: number;
  params: number;
}
const out = a.out!;
mkdirSync(out, { recursive: true });
const file = join(out, 'results.jsonl');
const results: Result[] = existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Result) : [];
const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const pct = (v: number) => (Number.isFinite(v) ? (100 * v).toFixed(2) : '-');
const mean = (xs: number[]) => xs.reduce((p, q) => p + q, 0) / xs.length;

async function once(cell: number, hash: string, what: string, seed: number, run: () => Promise<{ accuracy: number; seconds: number; params: number }>): Promise<void> {
  if (results.some((r) => r.cell === cell && r.hash === hash && r.what === what && r.seed === seed)) return;
  const r: Result = { cell, hash, what, seed, ...(await run()) };
  results.push(r);
  writeFileSync(file, `${JSON.stringify(r)}\n`, { flag: 'a' });
  log(`cell ${cell} ${what} seed ${seed}: ${pct(r.accuracy)}% (${r.seconds.toFixed(1)} s, ${r.params} params)`);
}

const ds = await cachedDataset(a.dataset!);
const genotypes = createStrategy('random', { seed: Number(a.seed) }).sample!(cells);
const load = [loadavg()[0]!];
for (const [cell, g] of genotypes.entries()) {
  const hash = genotypeHash(g);
  await once(cell, hash, 'eval', 0, () => trainAtEvalScale(ds, g, EVAL, 0));
  for (const p of proxies) {
    for (let s = 0; s < proxySeeds; s++) {
      await once(cell, hash, p.label, s, async () => {
        const r = await trainChild({ runId: 'proxy-rank', id: cell, genotype: g, hash, seed: 1000 * (s + 1) + cell, dataset: a.dataset!, proxy: p.config });
        if (r.error) throw new Error(`cell ${cell} at proxy ${p.label}: ${r.error}`);
        return { accuracy: r.accuracy, seconds: r.seconds, params: r.params };
      });
    }
  }
  if (cell < evalRepeats) await once(cell, hash, 'eval', 1, () => trainAtEvalScale(ds, g, EVAL, 1));
}
load.push(loadavg()[0]!);

// The report: every proxy's τ against the evaluation, and the evaluation accuracy of the cell it picks.
const hashes = genotypes.map((g) => genotypeHash(g));
const get = (cell: number, what: string, seed: number) => results.find((r) => r.cell === cell && r.hash === hashes[cell] && r.what === what && r.seed === seed)!;
const evalAcc = hashes.map((_, c) => get(c, 'eval', 0).accuracy);
const params = hashes.map((_, c) => get(c, 'eval', 0).params);
const pick = (scores: number[]) => evalAcc[scores.indexOf(Math.max(...scores))]!;
const rows = ['| proxy | seconds per cell | Kendall τ with the evaluation | evaluation accuracy of its pick (%) |', '|---|---|---|---|'];
const json: Record<string, unknown>[] = [];
const row = (label: string, seconds: number, scores: number[]) => {
  const tau = kendallTau(scores, evalAcc);
  rows.push(`| ${label} | ${seconds.toFixed(1)} | ${tau.toFixed(3)} | ${pct(pick(scores))} |`);
  json.push({ proxy: label, seconds, tau, pick: pick(scores), scores });
};
for (const p of proxies) {
  const per = Array.from({ length: proxySeeds }, (_, s) => hashes.map((_, c) => get(c, p.label, s)));
  const secs = mean(per.flat().map((r) => r.seconds));
  for (let s = 0; s < proxySeeds; s++) row(`${p.label}, seed ${s + 1}`, secs, per[s]!.map((r) => r.accuracy));
  if (proxySeeds > 1) row(`${p.label}, mean of ${proxySeeds} seeds`, secs * proxySeeds, hashes.map((_, c) => mean(per.map((rs) => rs[c]!.accuracy))));
}
row('parameters (at the evaluation scale)', 0, params);
const repeats = Array.from({ length: Math.min(evalRepeats, cells) }, (_, c) => [get(c, 'eval', 0).accuracy, get(c, 'eval', 1).accuracy]);
const sorted = [...evalAcc].sort((x, y) => y - x);
const notes = [
  `${cells} uniformly random cells (seed ${a.seed}), ${a.dataset}; evaluation ${EVAL.cellsPerStack}@${EVAL.filters * 24}, ${EVAL.batches} batches of ${EVAL.batchSize}, test accuracy on ${EVAL.testImages} images; proxies N = 1, batches of ${BASE.batchSize}, validation on ${BASE.maxValidationImages} images`,
  `evaluation accuracies: best ${pct(sorted[0]!)}%, mean ${pct(mean(evalAcc))}%, worst ${pct(sorted[sorted.length - 1]!)}%; evaluation seconds per cell ${mean(hashes.map((_, c) => get(c, 'eval', 0).seconds)).toFixed(1)}`,
  repeats.length ? `the evaluation from a second initialization (cells 0–${repeats.length - 1}): ${repeats.map(([x, y]) => `${pct(x!)} / ${pct(y!)}`).join(', ')} (mean |difference| ${pct(mean(repeats.map(([x, y]) => Math.abs(x! - y!))))} points)` : '',
  `load average (1 min) ${load.map((l) => l.toFixed(1)).join(' → ')}`,
].filter(Boolean);
const md = `${rows.join('\n')}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n`;
writeFileSync(join(out, 'rank.md'), md);
writeFileSync(join(out, 'rank.json'), `${JSON.stringify({ cells, seed: Number(a.seed), proxies: proxies.map((p) => p.config), eval: EVAL, rows: json, evalAccuracy: evalAcc, params, repeats }, null, 2)}\n`);
process.stdout.write(md);
