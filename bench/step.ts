/**
 * Training throughput of a whole network step (forward, backward, update), side by side with
 * PyTorch CPU running the very same IR (bench/torch_ir.py).
 *
 *   npx tsx bench/step.ts --genotype nasnet-a --dataset cifar10 --n 2 --penultimate 768 --batch 64 [--steps 10]
 *       [--backend cpu] [--torch] [--json]
 *
 * Prints a table (and one JSON line with --json): images/s, ms/step (median), peak RSS, the plan's
 * activation memory, and with --torch the PyTorch numbers (channels-first and channels-last, 2
 * threads) and the ratio of ours to PyTorch's faster layout.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildNetwork } from '../lib/cells/network.js';
import { resolveGenotypeArg } from '../lib/cli/genotype-arg.js';
import { Plan } from '../lib/engine/plan.js';
import { ParameterStore } from '../lib/engine/store.js';

const { values: a } = parseArgs({
  options: {
    genotype: { type: 'string', default: 'nasnet-a' },
    dataset: { type: 'string', default: 'cifar10' },
    n: { type: 'string', default: '2' },
    penultimate: { type: 'string', default: '768' },
    batch: { type: 'string', default: '64' },
    steps: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    backend: { type: 'string', default: 'cpu' },
    aux: { type: 'boolean', default: false },
    torch: { type: 'boolean', default: false },
    threads: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
  },
});
if (a.backend !== 'cpu') throw new Error(`--backend ${a.backend}: only the cpu backend runs plans in this build`);
const imagenet = a.dataset === 'imagenet';
const net = buildNetwork(resolveGenotypeArg(a.genotype!), {
  stem: imagenet ? 'imagenet' : 'cifar',
  cellsPerStack: Number(a.n),
  penultimate: Number(a.penultimate),
  numClasses: imagenet ? 1000 : a.dataset === 'cifar100' ? 100 : 10,
  inputSize: imagenet ? 224 : 32,
  auxHead: a.aux,
  stemMultiplier: imagenet ? 1 : 3,
});
const batch = Number(a.batch);
const store = new ParameterStore();
const plan = Plan.compile(net.graph, store, { batch, seed: 0 });
const n = plan.inputShape.reduce((x, y) => x * y, 1);
const images = new Float32Array(n).map(() => Math.random() * 2 - 1);
const labels = Int32Array.from({ length: batch }, (_, i) => i % plan.classes);
const times: number[] = [];
for (let i = 0; i < Number(a.warmup) + Number(a.steps); i++) {
  const t0 = performance.now();
  await plan.trainStep(images, labels, { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, step: i });
  if (i >= Number(a.warmup)) times.push(performance.now() - t0);
}
times.sort((x, y) => x - y);
const ms = times[Math.floor(times.length / 2)];
const ours = {
  network: net.meta.name,
  batch,
  imagesPerSecond: (batch * 1000) / ms,
  msPerStep: ms,
  peakRssMiB: process.resourceUsage().maxRSS / 1024,
  activationMiB: plan.description.activationBytes / 2 ** 20,
  naiveActivationMiB: plan.description.naiveActivationBytes / 2 ** 20,
};
plan.dispose();
const result: Record<string, unknown> = { ours };
if (a.torch) {
  const dir = mkdtempSync(join(tmpdir(), 'nasnet-bench-'));
  const file = join(dir, 'graph.json');
  writeFileSync(file, JSON.stringify(net.graph));
  const torch = [];
  for (const layout of [[], ['--channels-last']]) {
    const r = spawnSync('/usr/bin/python3', ['bench/torch_ir.py', file, '--batch', a.batch!, '--steps', a.steps!, '--warmup', a.warmup!, '--threads', a.threads!, ...layout], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`PyTorch run failed: ${r.stderr}`);
    torch.push(JSON.parse(r.stdout.trim().split('\n').pop()!));
  }
  const best = torch.reduce((x, y) => (x.imagesPerSecond > y.imagesPerSecond ? x : y));
  result.torch = torch;
  result.ratio = ours.imagesPerSecond / best.imagesPerSecond;
}
if (a.json) process.stdout.write(`${JSON.stringify(result)}\n`);
else {
  console.log(`${ours.network} batch ${batch}: ${ours.imagesPerSecond.toFixed(1)} img/s, ${ms.toFixed(1)} ms/step, activations ${ours.activationMiB.toFixed(1)} MiB (naive ${ours.naiveActivationMiB.toFixed(1)}), peak RSS ${ours.peakRssMiB.toFixed(0)} MiB`);
  if (result.torch) {
    for (const t of result.torch as { layout: string; imagesPerSecond: number; msPerStep: number }[]) {
      console.log(`pytorch ${t.layout}: ${t.imagesPerSecond.toFixed(1)} img/s, ${t.msPerStep.toFixed(1)} ms/step`);
    }
    console.log(`ratio (ours / faster pytorch): ${(result.ratio as number).toFixed(2)}×`);
  }
}
