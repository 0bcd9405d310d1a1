/**
 * Inference throughput of a whole network (the logits, `Plan.predict` on an inference plan), side by
 * side with onnxruntime-node running our ONNX export of the very same network and weights.
 *
 *   npx tsx bench/infer.ts [--ort] [--genotype nasnet-a] [--dataset cifar10] [--n 2] [--penultimate 768]
 *       [--batch 1,32,64] [--rounds 3] [--seconds 1] [--threads 2] [--profile] [--json]
 *
 * For each batch size: compiles an inference plan (`training: false`), gives every BatchNormalization
 * random running statistics (so the two engines compute something non-trivial), and with --ort
 * exports the same network with `exportOnnx` and opens it in ORT with all graph optimizations,
 * `--threads` intra-op threads, one inter-op thread, sequential execution. Then `--rounds` rounds,
 * each running ours and ORT in turns of about 250 ms for about `--seconds` each (so machine noise
 * hits both alike; the first call of each turn is not counted, as it pays for the other engine's
 * threads still spinning); the per-round ratio is ours / ORT in images/s (from the median call of
 * each), and the reported ratio is the median of the rounds. The logits of the two engines are compared once (largest difference relative to the
 * largest logit). The measured FP32 FMA peak (bench/fma-peak.ts) is printed with the numbers, and
 * with 2+ threads how fast a core reads what the other just wrote, before and after the batches
 * (bench/core-to-core.ts): batch-1 rates, ours and ORT's, follow it from run to run.
 * --profile times every node of our plan and prints where inference time goes, by kind of node; with
 * --ort also ORT's own profile of `--rounds` runs (a separate profiling session after the timed
 * rounds; its first run left out), by operator.
 * Prints one `ratio` line per batch (and one JSON line with --json).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { buildNetwork } from '../lib/cells/network.js';
import { resolveGenotypeArg } from '../lib/cli/genotype-arg.js';
import { Plan, summarizeProfile } from '../lib/engine/plan.js';
import { ParameterStore } from '../lib/engine/store.js';
import { exportOnnx } from '../lib/onnx/export.js';
import { checkInteger, checkNumber } from '../lib/util/check.js';
import { type CoreToCore, measureCoreToCore } from './core-to-core.js';
import { checkEngineThreads } from './engine-threads.js';
import { measureFmaPeak } from './fma-peak.js';
import { median } from './median.js';

const { values: a } = parseArgs({
  options: {
    genotype: { type: 'string', default: 'nasnet-a' },
    dataset: { type: 'string', default: 'cifar10' },
    n: { type: 'string', default: '2' },
    penultimate: { type: 'string', default: '768' },
    batch: { type: 'string', default: '1,32,64' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '1' },
    threads: { type: 'string', default: '2' },
    profile: { type: 'boolean', default: false },
    ort: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const imagenet = a.dataset === 'imagenet';
const net = buildNetwork(resolveGenotypeArg(a.genotype!), {
  stem: imagenet ? 'imagenet' : 'cifar',
  cellsPerStack: Number(a.n),
  penultimate: Number(a.penultimate),
  numClasses: imagenet ? 1000 : a.dataset === 'cifar100' ? 100 : 10,
  inputSize: imagenet ? 224 : 32,
  auxHead: false,
  stemMultiplier: imagenet ? 1 : 3,
});
const threads = checkInteger(Number(a.threads), '--threads');
checkEngineThreads(threads);
const rounds = checkInteger(Number(a.rounds), '--rounds');
const seconds = checkNumber(Number(a.seconds), '--seconds', { min: 0, minOpen: true });
const batches = a.batch!.split(',').map(Number);
for (const b of batches) if (!Number.isInteger(b) || b < 1) throw new Error(`--batch: expected positive integers but received '${a.batch}'`);

const peak = measureFmaPeak(threads);
const coreToCoreBefore = threads > 1 ? measureCoreToCore() : undefined;
const store = new ParameterStore();
// Random, non-trivial BN statistics and affine parameters (the store starts at mean 0, var 1).
let seed = 12345;
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};

/**
 * One round: the runners take turns in blocks of about 250 ms (at least 2 calls) until `seconds`
 * have passed per runner (so noise from other processes hits them alike); the first call of each
 * block is not counted (it pays for the other engine's threads still spinning after its last call).
 * Returns the median ms per call of each runner.
 */
async function round(runners: (() => Promise<unknown>)[]): Promise<number[]> {
  const times: number[][] = runners.map(() => []);
  const start = performance.now();
  while (times[0]!.length < 3 || performance.now() - start < seconds * 1000 * runners.length) {
    for (let k = 0; k < runners.length; k++) {
      const blockStart = performance.now();
      for (let call = 0; call < 2 || performance.now() - blockStart < 250; call++) {
        const t0 = performance.now();
        await runners[k]!();
        if (call > 0) times[k]!.push(performance.now() - t0);
      }
    }
  }
  return times.map(median);
}

/**
 * ORT's own per-node profile of `rounds` runs of a separate session (profiling slows ORT, so the
 * timed session never profiles), summed by operator: nodes per run, ms and share of node time.
 */
async function profileOrt(model: Uint8Array, batch: number, feeds: Record<string, ort.Tensor>) {
  const dir = mkdtempSync(join(tmpdir(), 'nasnet-ort-profile-'));
  try {
    const session = await ort.InferenceSession.create(model, {
      graphOptimizationLevel: 'all',
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      enableProfiling: true,
      profileFilePrefix: join(dir, `b${batch}`),
    });
    for (let r = 0; r <= rounds; r++) await session.run(feeds);
    await session.release();
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) return undefined;
    type Event = { cat?: string; name?: string; ts?: number; dur?: number; args?: { op_name?: string } };
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Event[];
    // The runs after the first (which pays for ORT's first allocations): their nodes only.
    const kept = events
      .filter((e) => e.cat === 'Session' && e.name === 'model_run' && e.ts !== undefined && e.dur !== undefined)
      .sort((x, y) => x.ts! - y.ts!)
      .slice(1);
    const runs = kept.length;
    const inKept = (ts: number) => kept.some((r) => ts >= r.ts! && ts <= r.ts! + r.dur!);
    const byOp = new Map<string, { op: string; nodes: number; ms: number; share: number }>();
    let total = 0;
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time') || e.dur === undefined) continue;
      if (e.ts === undefined || !inKept(e.ts)) continue;
      const op = e.args?.op_name ?? '?';
      const row = byOp.get(op) ?? { op, nodes: 0, ms: 0, share: 0 };
      row.nodes += 1;
      row.ms += e.dur / 1000;
      total += e.dur / 1000;
      byOp.set(op, row);
    }
    const rows = [...byOp.values()].sort((x, y) => y.ms - x.ms);
    for (const r of rows) {
      r.share = total > 0 ? r.ms / total : 0;
      r.nodes = runs > 0 ? Math.round(r.nodes / runs) : r.nodes;
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = [];
for (const batch of batches) {
  const plan = await Plan.compile(net.inference, store, { batch, training: false, seed: 0, profile: a.profile });
  if (results.length === 0) {
    for (const p of net.inference.params) {
      if (!/\/(mean|var|scale|gamma|beta|bias|B)$/.test(p.name) || p.shape.length !== 1) continue;
      const t = store.get(p.name)!;
      const isVar = p.name.endsWith('var');
      for (let i = 0; i < t.data.length; i++) t.data[i] = isVar ? 0.5 + rand() : (rand() - 0.5) * 0.4 + (p.name.endsWith('scale') || p.name.endsWith('gamma') ? 1 : 0);
      store.set(p.name, t.data);
    }
  }
  const images = new Float32Array(plan.inputShape.reduce((x, y) => x * y, 1)).map(() => rand() * 2 - 1);
  const ours = () => plan.predict(images);
  let session: ort.InferenceSession | undefined;
  let model: Uint8Array | undefined;
  let feeds: Record<string, ort.Tensor> = {};
  let agreement: number | undefined;
  if (a.ort) {
    model = exportOnnx(net.inference, store);
    session = await ort.InferenceSession.create(model, {
      graphOptimizationLevel: 'all',
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
    });
    const input = net.inference.inputs.find((i) => i.dtype === 'float32')!;
    feeds = { [input.name]: new ort.Tensor('float32', images, plan.inputShape) };
    const theirs = (await session.run(feeds))[session.outputNames[0]!]!.data as Float32Array;
    const mine = await ours();
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < mine.length; i++) {
      scale = Math.max(scale, Math.abs(theirs[i]!));
      diff = Math.max(diff, Math.abs(mine[i]! - theirs[i]!));
    }
    agreement = diff / Math.max(scale, 1e-30);
  }
  const ourMs: number[] = [];
  const ortMs: number[] = [];
  const ratios: number[] = [];
  await ours(); // warm-up
  if (a.profile) plan.resetProfile();
  for (let r = 0; r < rounds; r++) {
    const s = session;
    const [mine, theirs] = await round(s ? [ours, () => s.run(feeds)] : [ours]);
    ourMs.push(mine!);
    if (theirs !== undefined) {
      ortMs.push(theirs);
      ratios.push(theirs / mine!);
    }
  }
  const profile = a.profile ? summarizeProfile(plan.profile()) : undefined;
  const ortProfile = a.profile && model ? await profileOrt(model, batch, feeds) : undefined;
  plan.dispose();
  await session?.release();
  const row = {
    network: net.meta.name,
    batch,
    threads,
    rounds,
    oursImagesPerSecond: (batch * 1000) / median(ourMs),
    oursMs: ourMs,
    ortImagesPerSecond: session ? (batch * 1000) / median(ortMs) : undefined,
    ortMs: session ? ortMs : undefined,
    ratios: session ? ratios : undefined,
    ratio: session ? median(ratios) : undefined,
    maxRelativeDifference: agreement,
    activationMiB: plan.description.activationBytes / 2 ** 20,
    profile,
    ortProfile,
  };
  results.push(row);
  if (!a.json) {
    const line = `${row.network} batch ${batch}, ${threads} threads: ours ${row.oursImagesPerSecond.toFixed(1)} img/s`;
    if (!session) console.log(line);
    else {
      console.log(`${line}, onnxruntime-node ${ort.env.versions.common} ${row.ortImagesPerSecond!.toFixed(1)} img/s (logits agree to ${agreement!.toExponential(1)})`);
      console.log(`ratio (ours / ort) batch ${batch}: ${row.ratio!.toFixed(2)}× (rounds ${ratios.map((x) => x.toFixed(2)).join(', ')})`);
    }
    if (profile) {
      console.log(`where the time goes (batch ${batch}, every timed call; activations ${row.activationMiB.toFixed(1)} MiB):`);
      for (const r of profile.slice(0, 15)) console.log(`  ${r.kind.padEnd(34)}${String(r.nodes).padStart(5)}${r.forwardMs.toFixed(1).padStart(10)} ms${(100 * r.share).toFixed(1).padStart(7)}%`);
    }
    if (ortProfile) {
      console.log(`where ORT's time goes (batch ${batch}, its own profiler, ${rounds} runs after a first; by operator, its fused and layout nodes included):`);
      for (const r of ortProfile.slice(0, 12)) console.log(`  ${r.op.padEnd(34)}${String(r.nodes).padStart(5)}${r.ms.toFixed(1).padStart(10)} ms${(100 * r.share).toFixed(1).padStart(7)}%`);
    }
  }
}
const coreToCore = coreToCoreBefore ? { before: coreToCoreBefore, after: measureCoreToCore() } : undefined;
const describeCoreToCore = (c: CoreToCore) => `cross ${c.crossGBs.toFixed(0)} GB/s, ${c.crossShare.toFixed(2)} of local ${c.localGBs.toFixed(0)}`;
if (a.json) process.stdout.write(`${JSON.stringify({ fmaPeakGflops: peak.gflops, peak, coreToCore, results })}\n`);
else {
  console.log(`FP32 FMA peak measured now: ${peak.gflops.toFixed(0)} GFLOP/s (${threads} threads × ${Math.max(peak.avx512PerCore, peak.avx2PerCore).toFixed(1)} per core)`);
  if (coreToCore) console.log(`core-to-core reads (bench/core-to-core.ts), before: ${describeCoreToCore(coreToCore.before)}; after: ${describeCoreToCore(coreToCore.after)}`);
}
