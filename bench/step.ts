/**
 * Training throughput of a whole network step (forward, backward, update), side by side with
 * PyTorch CPU running the very same IR (bench/torch_ir.py).
 *
 *   npx tsx bench/step.ts --genotype nasnet-a --dataset cifar10 --n 2 --penultimate 768 --batch 64
 *       [--rounds 3] [--steps 3] [--turn-seconds 2] [--warmup 2] [--threads 2]
 *       [--backend cpu|cuda|auto] [--device 0] [--torch] [--fusion] [--profile] [--json] [--dump-ir FILE]
 *
 * After `--warmup` steps, `--rounds` rounds; in each, every contender takes one turn, always in the
 * same order: ours, (ours without fusion with --fusion), and with --torch PyTorch channels-first and
 * channels-last, each in its own long-lived process (bench/torch_ir.py --serve). A turn is one
 * uncounted step when our step is under 250 ms (it pays for the previous contender's threads still
 * spinning; negligible against longer steps, where it is left out) and then
 * max(--steps, --turn-seconds of our step) timed steps; a contender's rate in a round is the median
 * step of its turn, its reported rate the median over rounds. The `ratio` line is the median over
 * rounds of ours / the faster PyTorch layout of that round; the `cpu-time ratio` line the same in
 * images per CPU-second (user + system time of all the process's threads per step), the steadier
 * figure on a loaded machine, where a descheduled thread stalls its team's barriers. Also printed: the load average before and
 * after, with --torch the FP32 FMA peak measured in the same run (bench/fma-peak.ts), evaluate
 * images/s, and memory: our plan's activation arena and PyTorch's saved-for-backward activations,
 * each process's peak RSS, and each one's step RSS delta (peak RSS less the RSS before the plan or
 * model was built: parameters, gradients, momentum, activations, workspace). One JSON line at the
 * end with --json. --profile times every node of the (fused) plan and prints where a training
 * step's time goes, by kind of node. --backend cuda runs the plans on a CUDA device (and PyTorch
 * with --torch on the same device). --dump-ir FILE writes the training graph's IR and exits: the
 * native plan runner (bench/kernels/plan_bench.cc, scripts/gpu-check.sh) and bench/torch_ir.py take
 * it on a machine without Node.
 * --torch-wait sets PyTorch's OMP_WAIT_POLICY: `default` (the default: the variable unset, libgomp's own
 * spin-then-sleep, as a PyTorch user runs it), `passive` or `active`. On a quiet machine the default
 * is the faster (2@768 batch 32 channels-last, standalone: 30.0 img/s against 26.4 with passive);
 * under other processes' load libgomp's spinning can slow PyTorch's small parallel regions up to 10×
 * (1@192 batch 8: 5652 ms/step against 551 ms with passive, load average 8), where `passive` is the
 * fairer setting. Our engine runs with the defaults.
 * Each PyTorch process measures its saved-for-backward activations after its last turn, not before
 * its first: that one forward under saved_tensors_hooks, taken after only the warm-up steps, left
 * PyTorch's process faulting in ~500 MiB every step from then on (2@768 batch 32: ~130,000 minor page
 * faults and ~1 s of system time per step, half its standalone speed). The page faults and system
 * time per step of every contender are printed, so a step that is not in its steady state shows.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { buildNetwork } from '../lib/cells/network.js';
import { resolveGenotypeArg } from '../lib/cli/genotype-arg.js';
import { Plan, summarizeProfile } from '../lib/engine/plan.js';
import { ParameterStore } from '../lib/engine/store.js';
import { checkInteger } from '../lib/util/check.js';
import { checkEngineThreads } from './engine-threads.js';
import { measureFmaPeak } from './fma-peak.js';
import { median } from './median.js';

const { values: a } = parseArgs({
  options: {
    genotype: { type: 'string', default: 'nasnet-a' },
    dataset: { type: 'string', default: 'cifar10' },
    n: { type: 'string', default: '2' },
    penultimate: { type: 'string', default: '768' },
    batch: { type: 'string', default: '64' },
    steps: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    'turn-seconds': { type: 'string', default: '2' },
    warmup: { type: 'string', default: '2' },
    backend: { type: 'string', default: 'cpu' },
    device: { type: 'string', default: '0' },
    'dump-ir': { type: 'string' },
    aux: { type: 'boolean', default: false },
    torch: { type: 'boolean', default: false },
    'torch-wait': { type: 'string', default: 'default' },
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

const rounds = Number(a.rounds);
const steps = Number(a.steps);
const turnSeconds = Number(a['turn-seconds']);
if (!['passive', 'active', 'default'].includes(a['torch-wait']!)) throw new Error(`--torch-wait: expected passive, active or default but received '${a['torch-wait']}'`);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: expected a positive integer but received '${a.rounds}'`);
if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps: expected a positive integer but received '${a.steps}'`);
// Our plans on the CPU run the engine's threads; --threads must say the same number for both sides.
const threads = checkInteger(Number(a.threads), '--threads');
if (a.torch && backend === 'cpu') checkEngineThreads(threads);
const loadBefore = loadavg();
const peak = a.torch ? measureFmaPeak(threads) : undefined;
// What the process holds before any plan exists (Node, the graph, the inputs): the base of the step's RSS delta.
const rssBase = process.memoryUsage().rss;

/**
 * One contender in the alternation: `turn(k)` runs `lead` + k training steps and returns the times of
 * the last k (the uncounted ones pay for the other contenders' threads still spinning).
 */
interface Runner {
  label: string;
  turn(k: number): Promise<Turn>;
  ms: number[][];
  cpuMs: number[][];
  sysMs: number[][];
  faults: number[][];
}
/**
 * Each timed step of a turn: wall-clock and CPU time (all threads of the process, user + system),
 * ms; the system part of that CPU time, ms; and the process's minor page faults. Page faults in
 * steady-state steps mean an allocator handing memory back to the kernel and faulting it in again
 * every step (how PyTorch's process was once measured at half its standalone speed here).
 */
interface Turn {
  ms: number[];
  cpuMs: number[];
  sysMs: number[];
  faults: number[];
}

interface Ours extends Runner {
  plan: Plan;
  evaluate: number[];
}
async function compile(fuse: boolean): Promise<Ours> {
  const profile = fuse && a.profile === true;
  const options = { batch, seed: 0, fuse, profile, backend, device: Number(a.device) };
  const plan = await Plan.compile(net.graph, new ParameterStore(), options);
  const r: Ours = {
    label: fuse ? 'ours' : 'ours unfused',
    plan,
    ms: [],
    cpuMs: [],
    sysMs: [],
    faults: [],
    evaluate: [],
    async turn(k) {
      const times: Turn = { ms: [], cpuMs: [], sysMs: [], faults: [] };
      for (let i = 1 - lead; i <= k; i++) {
        const t0 = performance.now();
        const r0 = process.resourceUsage();
        await plan.trainStep(images, labels, { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, step: step++ });
        const r1 = process.resourceUsage();
        if (i > 0) {
          times.ms.push(performance.now() - t0);
          times.cpuMs.push((r1.userCPUTime - r0.userCPUTime + r1.systemCPUTime - r0.systemCPUTime) / 1000);
          times.sysMs.push((r1.systemCPUTime - r0.systemCPUTime) / 1000);
          times.faults.push(r1.minorPageFault - r0.minorPageFault);
        }
      }
      const t1 = performance.now();
      await plan.evaluate(images, labels);
      r.evaluate.push(performance.now() - t1);
      return times;
    },
  };
  return r;
}
let step = 0;
/** Uncounted steps at the start of each turn (1 while probing, then set from our step time). */
let lead = 1;
const runs = a.fusion ? [await compile(true), await compile(false)] : [await compile(true)];
const first = runs[0]!.plan;
const n = first.inputShape.reduce((x, y) => x * y, 1);
const images = new Float32Array(n).map(() => Math.random() * 2 - 1);
const labels = Int32Array.from({ length: batch }, (_, i) => i % first.classes);

/** PyTorch in a child process (bench/torch_ir.py --serve), driven a turn at a time over stdin. */
interface TorchMemory {
  savedBytes: number;
  stepRssDeltaBytes: number;
  peakRssBytes: number;
}
interface Torch extends Runner {
  layout: string;
  version: string;
  memory?: TorchMemory;
  close(): Promise<void>;
}
async function startTorch(file: string, channelsLast: boolean): Promise<Torch> {
  const python = process.env.NASNET_PYTHON ?? '/usr/bin/python3';
  const device = backend === 'cpu' ? [] : ['--device', 'cuda'];
  const args = ['bench/torch_ir.py', file, '--batch', a.batch!, '--warmup', a.warmup!, '--threads', a.threads!, '--serve', ...device];
  // 'default': the variable unset, as a PyTorch user runs it (even if this shell sets it).
  const { OMP_WAIT_POLICY: _, ...inherited } = process.env;
  const env = a['torch-wait'] === 'default' ? inherited : { ...inherited, OMP_WAIT_POLICY: a['torch-wait'] };
  const child = spawn(python, channelsLast ? [...args, '--channels-last'] : args, { stdio: ['pipe', 'pipe', 'pipe'], env });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const l = await lines.next();
    if (l.done) throw new Error(`PyTorch (${channelsLast ? 'channels-last' : 'channels-first'}) exited: ${stderr.trim().split('\n').slice(-5).join('\n')}`);
    return JSON.parse(l.value);
  };
  const ready = await next();
  const t: Torch = {
    label: `pytorch ${ready.layout}`,
    layout: ready.layout,
    version: ready.torch,
    memory: undefined,
    ms: [],
    cpuMs: [],
    sysMs: [],
    faults: [],
    async turn(k) {
      child.stdin.write(`${k + lead}\n`);
      const r = await next();
      const cut = (v: number[]) => v.slice(lead);
      return { ms: cut(r.ms), cpuMs: cut(r.cpuMs), sysMs: cut(r.sysMs), faults: cut(r.faults) };
    },
    async close() {
      child.stdin.end();
      const last = await next();
      if (last.memory) t.memory = last.memory;
    },
  };
  return t;
}

const torch: Torch[] = [];
if (a.torch) {
  const dir = mkdtempSync(join(tmpdir(), 'nasnet-bench-'));
  const file = join(dir, 'graph.json');
  writeFileSync(file, JSON.stringify(net.graph));
  for (const channelsLast of [false, true]) torch.push(await startTorch(file, channelsLast));
}

// Warm-up, then the steps per turn: at least --steps, and enough for about --turn-seconds of our step.
for (const r of runs) {
  for (let i = 0; i < Number(a.warmup); i++) await r.plan.trainStep(images, labels, { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, step: step++ });
  await r.plan.evaluate(images, labels);
}
const probe = await runs[0]!.turn(1);
const perTurn = Math.max(steps, Math.ceil((turnSeconds * 1000) / probe.ms[0]!));
// Another process's OpenMP threads spin for well under a millisecond after its turn: an uncounted
// first step per turn only matters (and is only paid for) when steps are short.
lead = probe.ms[0]! < 250 ? 1 : 0;
runs[0]!.evaluate.length = 0;
if (a.profile) runs[0]!.plan.resetProfile();
// Rounds: ours, (ours unfused), pytorch channels-first, pytorch channels-last, the same order each round.
const runners: Runner[] = [...runs, ...torch];
for (let round = 0; round < rounds; round++)
  for (const r of runners) {
    const t = await r.turn(perTurn);
    r.ms.push(t.ms);
    r.cpuMs.push(t.cpuMs);
    r.sysMs.push(t.sysMs);
    r.faults.push(t.faults);
  }
for (const t of torch) await t.close();

const medianRate = (r: Runner) => median(r.ms.map((turn) => (batch * 1000) / median(turn)));
// Images per CPU-second (all threads): what a step costs in work, less sensitive than wall time to
// other processes taking the cores (a descheduled thread holds up its team's barrier in wall time).
const cpuRate = (r: Runner) => median(r.cpuMs.map((turn) => (batch * 1000) / median(turn)));
/** The median over every timed step of all rounds (system CPU ms, minor page faults). */
const perStep = (v: number[][]) => median(v.flat());
function summary(r: Ours) {
  const ms = (batch * 1000) / medianRate(r);
  const d = r.plan.description;
  return {
    network: net.meta.name,
    batch,
    backend: d.backend,
    device: d.device,
    graphs: d.graphs,
    fused: r === runs[0],
    rounds,
    stepsPerTurn: perTurn,
    uncountedStepsPerTurn: lead,
    imagesPerSecond: medianRate(r),
    roundImagesPerSecond: r.ms.map((turn) => (batch * 1000) / median(turn)),
    msPerStep: ms,
    imagesPerCpuSecond: cpuRate(r),
    sysMsPerStep: perStep(r.sysMs),
    faultsPerStep: perStep(r.faults),
    evalImagesPerSecond: (batch * 1000) / median(r.evaluate),
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    stepRssDeltaMiB: (process.resourceUsage().maxRSS * 1024 - rssBase) / 2 ** 20,
    activationMiB: d.activationBytes / 2 ** 20,
    naiveActivationMiB: d.naiveActivationBytes / 2 ** 20,
    fusedChains: d.fusedChains,
    aliasedTensors: d.aliasedTensors,
    mergedNodes: d.mergedNodes,
  };
}
const ours = summary(runs[0]!);
// The profile covers the timed training steps and evaluate calls (after warm-up).
const profile = a.profile ? summarizeProfile(runs[0]!.plan.profile()) : undefined;
const unfused = runs[1] ? summary(runs[1]) : undefined;
for (const r of runs) r.plan.dispose();
const result: Record<string, unknown> = { ours, load: { before: loadBefore, after: loadavg() } };
if (peak) result.fmaPeak = peak;
if (profile) result.profile = profile;
if (unfused) {
  result.unfused = unfused;
  result.fusion = {
    trainSpeedup: ours.imagesPerSecond / unfused.imagesPerSecond,
    evalSpeedup: ours.evalImagesPerSecond / unfused.evalImagesPerSecond,
    activationRatio: ours.activationMiB / unfused.activationMiB,
  };
}
if (torch.length > 0) {
  const mib = (b: number | undefined) => (b === undefined ? undefined : b / 2 ** 20);
  result.torch = torch.map((t) => ({
    layout: t.layout,
    torch: t.version,
    ompWaitPolicy: a['torch-wait'],
    imagesPerSecond: medianRate(t),
    roundImagesPerSecond: t.ms.map((turn) => (batch * 1000) / median(turn)),
    msPerStep: (batch * 1000) / medianRate(t),
    imagesPerCpuSecond: cpuRate(t),
    sysMsPerStep: perStep(t.sysMs),
    faultsPerStep: perStep(t.faults),
    savedActivationMiB: mib(t.memory?.savedBytes),
    stepRssDeltaMiB: mib(t.memory?.stepRssDeltaBytes),
    peakRssMiB: mib(t.memory?.peakRssBytes),
  }));
  // Per round: ours against the faster PyTorch layout of that round; the ratio is the median of the rounds.
  const roundRatios = runs[0]!.ms.map((turn, i) => {
    const theirs = Math.max(...torch.map((t) => (batch * 1000) / median(t.ms[i]!)));
    return (batch * 1000) / median(turn) / theirs;
  });
  result.roundRatios = roundRatios;
  result.ratio = median(roundRatios);
  const cpuRatios = runs[0]!.cpuMs.map((turn, i) => {
    const theirs = Math.max(...torch.map((t) => (batch * 1000) / median(t.cpuMs[i]!)));
    return (batch * 1000) / median(turn) / theirs;
  });
  result.roundCpuRatios = cpuRatios;
  result.cpuRatio = median(cpuRatios);
}
{
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(', ');
  console.log(`load average before ${load(loadBefore)}, after ${load(loadavg())}`);
  if (peak) console.log(`FP32 FMA peak measured now: ${peak.gflops.toFixed(0)} GFLOP/s (${peak.threads} threads × ${Math.max(peak.avx512PerCore, peak.avx2PerCore).toFixed(1)} per core)`);
  const rates = (v: number[]) => v.map((x) => x.toFixed(1)).join(', ');
  const line = (o: typeof ours, label: string) =>
    console.log(
      `${o.network} batch ${batch} ${label} on ${o.device}: train ${o.imagesPerSecond.toFixed(1)} img/s (${o.msPerStep.toFixed(1)} ms/step; rounds ${rates(o.roundImagesPerSecond)}; ${o.imagesPerCpuSecond.toFixed(1)} img/CPU-s; per step ${o.sysMsPerStep.toFixed(0)} ms system time, ${o.faultsPerStep} page faults), evaluate ${o.evalImagesPerSecond.toFixed(1)} img/s, activations ${o.activationMiB.toFixed(1)} MiB (naive ${o.naiveActivationMiB.toFixed(1)}), ${o.fusedChains} fused chains, ${o.aliasedTensors} aliased, step RSS delta ${o.stepRssDeltaMiB.toFixed(0)} MiB, peak RSS ${o.peakRssMiB.toFixed(0)} MiB`,
    );
  line(ours, 'fused');
  if (profile) {
    console.log('where the time goes (fused plan, timed training steps and evaluate calls):');
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
    type T = { layout: string; torch: string; imagesPerSecond: number; imagesPerCpuSecond: number; sysMsPerStep: number; faultsPerStep: number; msPerStep: number; roundImagesPerSecond: number[]; savedActivationMiB?: number; stepRssDeltaMiB?: number; peakRssMiB?: number };
    for (const t of result.torch as T[]) {
      const mem = t.peakRssMiB === undefined ? '' : `, saved activations ${t.savedActivationMiB!.toFixed(1)} MiB, step RSS delta ${t.stepRssDeltaMiB!.toFixed(0)} MiB, peak RSS ${t.peakRssMiB.toFixed(0)} MiB`;
      console.log(`pytorch ${t.torch} ${t.layout} (OMP_WAIT_POLICY ${a['torch-wait']}): ${t.imagesPerSecond.toFixed(1)} img/s (${t.msPerStep.toFixed(1)} ms/step; rounds ${rates(t.roundImagesPerSecond)}; ${t.imagesPerCpuSecond.toFixed(1)} img/CPU-s; per step ${t.sysMsPerStep.toFixed(0)} ms system time, ${t.faultsPerStep} page faults)${mem}`);
    }
    const list = (v: unknown) => (v as number[]).map((x) => x.toFixed(2)).join(', ');
    console.log(`ratio (ours / faster pytorch) ${ours.network} batch ${batch}: ${(result.ratio as number).toFixed(2)}× (rounds ${list(result.roundRatios)})`);
    console.log(`cpu-time ratio (images per CPU-second, ours / faster pytorch) ${ours.network} batch ${batch}: ${(result.cpuRatio as number).toFixed(2)}× (rounds ${list(result.roundCpuRatios)})`);
  }
}
if (a.json) process.stdout.write(`${JSON.stringify(result)}\n`);
