/**
 * Two builds of the native addon side by side in one process: the same network compiled by each (a
 * store per addon, the same seed, so the same parameters), their calls alternated one block at a
 * time, so that the host's drift (other processes, frequency) hits both alike. For a change to the
 * engine, this is a steadier comparison than two runs of bench/infer.ts minutes apart.
 *
 *   npx tsx bench/ab-addons.ts OLD.node NEW.node [--train] [--batch 32] [--rounds 20] [--calls 3]
 *       [--genotype nasnet-a] [--n 2] [--penultimate 768] [--json]
 *
 * Build the old addon from a worktree of the old commit (`git worktree add /tmp/old <commit>`, link
 * node_modules, `npx cmake-js compile`) or copy build/Release/nasnet.node aside before rebuilding.
 * Each round runs `--calls` predictions (or training steps with --train) on A, then on B (B first in
 * odd rounds), after two warm-up calls each; prints images/s of each (from the median block) and the
 * median of the per-round ratios B/A, and how far the two builds' logits differ (inference; 0 when a
 * change keeps the same floats).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadBinding } from '../lib/binding.js';
import type { Binding, NativePlanInstance, NativePlanOptions } from '../lib/binding-types.js';
import { buildNetwork } from '../lib/cells/network.js';
import { resolveGenotypeArg } from '../lib/cli/genotype-arg.js';
import { checkInteger } from '../lib/util/check.js';
import { median } from './median.js';

const { values: a, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    train: { type: 'boolean', default: false },
    batch: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '20' },
    calls: { type: 'string', default: '3' },
    genotype: { type: 'string', default: 'nasnet-a' },
    n: { type: 'string', default: '2' },
    penultimate: { type: 'string', default: '768' },
    json: { type: 'boolean', default: false },
  },
});
if (positionals.length !== 2) throw new Error(`expected two addon paths (OLD.node NEW.node) but received ${positionals.length}`);
const batch = checkInteger(Number(a.batch), '--batch');
const rounds = checkInteger(Number(a.rounds), '--rounds');
const calls = checkInteger(Number(a.calls), '--calls');
const net = buildNetwork(resolveGenotypeArg(a.genotype!), {
  stem: 'cifar',
  cellsPerStack: checkInteger(Number(a.n), '--n'),
  penultimate: checkInteger(Number(a.penultimate), '--penultimate'),
  numClasses: 10,
  inputSize: 32,
  auxHead: false,
  stemMultiplier: 3,
});
const graph = JSON.stringify(a.train ? net.graph : net.inference);
const options: NativePlanOptions = {
  batch,
  training: a.train!,
  seed: 0,
  optimizer: 'sgd',
  fuse: true,
  profile: false,
  backend: 'cpu',
  device: 0,
  graphs: true,
  emaDecay: 0,
  useEma: false,
  imageParallel: true,
};

interface Contender {
  path: string;
  plan: NativePlanInstance;
  ms: number[];
}
const contenders: Contender[] = positionals.map((given) => {
  const path = resolve(given); // relative to the working directory, not to this module
  const b: Binding = loadBinding([path]);
  return { path, plan: new b.NativePlan(new b.NativeStore(), graph, options), ms: [] };
});
let seed = 7;
const images = new Float32Array(batch * 3 * 32 * 32).map(() => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return (seed / 2 ** 31) * 2 - 1;
});
const labels = new Int32Array(batch).map((_, i) => i % 10);
const call = (c: Contender) => (a.train ? c.plan.trainStep(images, labels, { lr: 0.01 }) : c.plan.predict(images));

let difference: number | undefined;
if (!a.train) {
  const [x, y] = await Promise.all(contenders.map((c) => c.plan.predict(images)));
  difference = 0;
  for (let i = 0; i < x!.length; i++) difference = Math.max(difference, Math.abs(x![i]! - y![i]!));
}
for (const c of contenders) for (let i = 0; i < 2; i++) await call(c);
for (let r = 0; r < rounds; r++) {
  for (const c of r % 2 === 0 ? contenders : [...contenders].reverse()) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) await call(c);
    c.ms.push((performance.now() - t0) / calls);
  }
}
for (const c of contenders) c.plan.dispose();
const [A, B] = contenders as [Contender, Contender];
const rate = (c: Contender) => (batch * 1000) / median(c.ms);
const ratio = median(A.ms.map((ms, i) => ms / B.ms[i]!));
const result = {
  mode: a.train ? 'train' : 'infer',
  network: net.meta.name,
  batch,
  rounds,
  calls,
  a: { path: A.path, imagesPerSecond: rate(A) },
  b: { path: B.path, imagesPerSecond: rate(B) },
  ratio,
  maxLogitDifference: difference,
};
if (a.json) process.stdout.write(`${JSON.stringify(result)}\n`);
else {
  console.log(`${result.mode} ${result.network} batch ${batch}: A ${rate(A).toFixed(1)} img/s, B ${rate(B).toFixed(1)} img/s`);
  console.log(`ratio (B / A) ${ratio.toFixed(3)}× (median of ${rounds} rounds of ${calls} calls each)`);
  if (difference !== undefined) console.log(`logits differ by at most ${difference.toExponential(2)}`);
}
