/**
 * Training throughput of a whole network step (forward, backward, update), side by side with
 * PyTorch CPU running the very same IR (bench/torch_ir.py).
 *
 *   npx tsx bench/step.ts --genotype nasnet-a --dataset cifar10 --n 2 --penultimate 768 --batch 64 [--steps 10]
 *       [--backend cpu|cuda|auto] [--device 0] [--torch] [--fusion] [--profile] [--json] [--dump-ir FILE]
 *
 * Prints a table (and one JSON line with --json): training images/s, ms/step (median), inference
 * (evaluate) images/s, peak RSS, the plan's activation memory, and with --torch the PyTorch numbers
 * (channels-first and channels-last, 2 threads) and the ratio of ours to PyTorch's faster layout.
 * --fusion also compiles the graph with fusion off and runs the two plans alternately, step by
 * step (so machine noise hits both alike), and reports the fused / unfused ratios. --profile times
 * every node of the (fused) plan and prints where a training step's time goes, by kind of node.
 * --backend cuda runs the plans on a CUDA device (and PyTorch with --torch on the same device).
 * --dump-ir FILE writes the training graph's IR and exits: the native plan runner
 * (bench/kernels/plan_bench.cc, scripts/gpu-check.sh) and bench/torch_ir.py take it on a machine
 * without Node.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildNetwork } from '../lib/cells/network.js';
import { resolveGenotypeArg } from '../lib/cli/genotype-arg.js';
import { Plan, summarizeProfile } from '../lib/engine/plan.js';
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
    device: { type: 'string', default: '0' },
    'dump-ir': { type: 'string' },
    aux: { type: 'boolean', default: false },
    torch: { type: 'boolean', default: false },
    threads: { type: 'string', default: '2' },
    fusion: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const backend = a.backend as 'cpu' | 'cuda' | 'auto';
if (!['cpu', 'cuda', 'auto'].includes(backend)) throw new Error(`--backend: expected cpu, cuda or auto but received '${a.backend}'`);
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
if (a['dump-ir']) {
  writeFileSync(a['dump-ir'], JSON.stringify(net.graph));
  console.log(`wrote ${net.meta.name} (training graph, ${net.graph.nodes.length} nodes) to ${a['dump-ir']}`);
  process.exit(0);
}

interface Measured {
  plan: Plan;
  train: number[];
  evaluate: number[];
}
async function compile(fuse: boolean): Promise<Measured> {
  const profile = fuse && a.profile === true;
  const options = { batch, seed: 0, fuse, profile, backend, device: Number(a.device) };
  return { plan: await Plan.compile(net.graph, new ParameterStore(), options), train: [], evaluate: [] };
}
const runs = a.fusion ? [await compile(true), await compile(false)] : [await compile(true)];
const first = runs[0]!.plan;
const n = first.inputShape.reduce((x, y) => x * y, 1);
const images = new Float32Array(n).map(() => Math.random() * 2 - 1);
const labels = Int32Array.from({ length: batch }, (_, i) => i % first.classes);
for (let i = 0; i < Number(a.warmup) + Number(a.steps); i++) {
  for (const r of runs) {
    const t0 = performance.now();
    await r.plan.trainStep(images, labels, { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, step: i });
    const t1 = performance.now();
    if (a.profile && i < Number(a.warmup) && r === runs[0]) r.plan.resetProfile();
    await r.plan.evaluate(images, labels);
    if (i >= Number(a.warmup)) {
      r.train.push(t1 - t0);
      r.evaluate.push(performance.now() - t1);
    }
  }
}
const median = (v: number[]) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)]!;
function summary(r: Measured) {
  const ms = median(r.train);
  const d = r.plan.description;
  return {
    network: net.meta.name,
    batch,
    backend: d.backend,
    device: d.device,
    graphs: d.graphs,
    fused: r === runs[0],
    imagesPerSecond: (batch * 1000) / ms,
    msPerStep: ms,
    evalImagesPerSecond: (batch * 1000) / median(r.evaluate),
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    activationMiB: d.activationBytes / 2 ** 20,
    naiveActivationMiB: d.naiveActivationBytes / 2 ** 20,
    fusedChains: d.fusedChains,
    aliasedTensors: d.aliasedTensors,
    mergedNodes: d.mergedNodes,
  };
}
const ours = summary(runs[0]!);
// The profile covers the training steps and the evaluate calls after warm-up.
const profile = a.profile ? summarizeProfile(runs[0]!.plan.profile()) : undefined;
const unfused = runs[1] ? summary(runs[1]) : undefined;
for (const r of runs) r.plan.dispose();
const result: Record<string, unknown> = { ours };
if (profile) result.profile = profile;
if (unfused) {
  result.unfused = unfused;
  result.fusion = {
    trainSpeedup: ours.imagesPerSecond / unfused.imagesPerSecond,
    evalSpeedup: ours.evalImagesPerSecond / unfused.evalImagesPerSecond,
    activationRatio: ours.activationMiB / unfused.activationMiB,
  };
}
if (a.torch) {
  const dir = mkdtempSync(join(tmpdir(), 'nasnet-bench-'));
  const file = join(dir, 'graph.json');
  writeFileSync(file, JSON.stringify(net.graph));
  const torch = [];
  for (const layout of [[], ['--channels-last']]) {
    const device = ours.backend === 'cuda' ? ['--device', 'cuda'] : [];
    const python = process.env.NASNET_PYTHON ?? '/usr/bin/python3';
    const r = spawnSync(python, ['bench/torch_ir.py', file, '--batch', a.batch!, '--steps', a.steps!, '--warmup', a.warmup!, '--threads', a.threads!, ...layout, ...device], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`PyTorch run failed: ${r.stderr}`);
    torch.push(JSON.parse(r.stdout.trim().split('\n').pop()!));
  }
  const best = torch.reduce((x, y) => (x.imagesPerSecond > y.imagesPerSecond ? x : y));
  result.torch = torch;
  result.ratio = ours.imagesPerSecond / best.imagesPerSecond;
}
if (a.json) process.stdout.write(`${JSON.stringify(result)}\n`);
else {
  const line = (o: typeof ours, label: string) =>
    console.log(
      `${o.network} batch ${batch} ${label} on ${o.device}: train ${o.imagesPerSecond.toFixed(1)} img/s (${o.msPerStep.toFixed(1)} ms/step), evaluate ${o.evalImagesPerSecond.toFixed(1)} img/s, activations ${o.activationMiB.toFixed(1)} MiB (naive ${o.naiveActivationMiB.toFixed(1)}), ${o.fusedChains} fused chains, ${o.aliasedTensors} aliased, peak RSS ${o.peakRssMiB.toFixed(0)} MiB`,
    );
  line(ours, 'fused');
  if (profile) {
    console.log('where the time goes (fused plan, training steps and evaluate calls after warm-up):');
    console.log('kind                              nodes  forward ms  backward ms  share');
    for (const r of profile.slice(0, 15)) {
      console.log(
        `${r.kind.padEnd(34)}${String(r.nodes).padStart(5)}${r.forwardMs.toFixed(1).padStart(12)}${r.backwardMs.toFixed(1).padStart(13)}${(100 * r.share).toFixed(1).padStart(6)}%`,
      );
    }
  }
  if (unfused) {
    line(unfused, 'unfused');
    const f = result.fusion as { trainSpeedup: number; evalSpeedup: number; activationRatio: number };
    console.log(`fusion: train ${f.trainSpeedup.toFixed(2)}×, evaluate ${f.evalSpeedup.toFixed(2)}×, activations ${f.activationRatio.toFixed(2)}× of unfused`);
  }
  if (result.torch) {
    for (const t of result.torch as { layout: string; imagesPerSecond: number; msPerStep: number }[]) {
      console.log(`pytorch ${t.layout}: ${t.imagesPerSecond.toFixed(1)} img/s, ${t.msPerStep.toFixed(1)} ms/step`);
    }
    console.log(`ratio (ours / faster pytorch): ${(result.ratio as number).toFixed(2)}×`);
  }
}
