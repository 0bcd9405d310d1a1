/**
 * Plans on the CUDA backend through the binding, against the CPU backend. They run where the addon
 * that is loaded can use a CUDA device: a real GPU, or the test-only addon built against the
 * emulated device (`npm test` runs this file with NASNET_ADDON=build-emu/Release/nasnet.node);
 * elsewhere every test is skipped with the reason.
 *
 * Tolerances as native/tests/plan_cuda_test.cc: float sums in different orders agree to ~1e-6
 * relative per step, amplified by training; masks are drawn from the same generator on both.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backends } from '../lib/backends.js';
import { NASNET_A } from '../lib/cells/genotypes.js';
import { buildNetwork } from '../lib/cells/network.js';
import { Plan, type StagedBatch } from '../lib/engine/plan.js';
import { ParameterStore } from '../lib/engine/store.js';
import { ValidationError } from '../lib/errors.js';
import { IR_VERSION } from '../lib/ir/types.js';
import { loadCheckpoint, saveCheckpoint } from '../lib/train/checkpoint.js';
import { train } from '../lib/train/train.js';
import { skippedTitle } from './helpers/optional.js';
import { randomFloats, tinyClassifier } from './helpers/tiny-graph.js';

const report = backends();
const cuda = report.available.includes('cuda');
const why = cuda ? '' : report.cuda.compiled ? report.cuda.reason : `CUDA not compiled: ${report.cuda.reason}`;
/** The suite's title, with the reason when skipped (npm test lists it unless another run ran the test). */
const titled = (title: string, skip: boolean, reason: string): string => (skip ? skippedTitle(title, reason) : title);

// NASNet-A 1@8 on 16×16 inputs with the auxiliary head: every separable conv, the ReLU-conv-BN
// preprocessing, factorized reductions, pools, DropPath and the two losses.
const net = buildNetwork(NASNET_A, { cellsPerStack: 1, filters: 8, numClasses: 10, inputSize: 16, auxHead: true });
const B = 2;
const images = randomFloats(B * 3 * 16 * 16, 5);
const labels = Int32Array.from({ length: B }, (_, i) => (i * 3 + 1) % 10);
const dir = mkdtempSync(join(tmpdir(), 'nasnet-cuda-'));

function maxRelativeDifference(a: Float32Array, b: Float32Array): number {
  let scale = 1e-6;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / scale);
  return worst;
}

// On the emulated device a step of this network takes seconds of CPU: generous per-test limits.
describe.skipIf(!cuda)(titled('plans on CUDA', !cuda, `${why}; npm test runs them on the emulated CUDA device`), { timeout: 600_000 }, () => {
  it('train, evaluate and predict NASNet-A like the CPU, and describe the device', async () => {
    // The auxiliary head's batch norms see 2 values per channel, which makes gradients sensitive to
    // summation order: so CUDA must agree with the CPU as closely as a second CPU plan that sums in
    // another order (unfused) does, four times over, and never worse than the fixed floors.
    const cs = new ParameterStore();
    const gs = new ParameterStore();
    const us = new ParameterStore();
    const cpu = Plan.compileSync(net.graph, cs, { batch: B, seed: 4 });
    const unfused = Plan.compileSync(net.graph, us, { batch: B, seed: 4, fuse: false });
    const gpu = await Plan.compile(net.graph, gs, { batch: B, seed: 4, backend: 'cuda' });
    expect(gpu.description.backend).toBe('cuda');
    expect(gpu.description.device).toMatch(/^cuda:0 /);
    expect(gpu.description.fusedChains).toBe(cpu.description.fusedChains);
    const within = (x: number, ref: number, other: number, floor: number) =>
      expect(Math.abs(x - ref)).toBeLessThanOrEqual(Math.max(floor * Math.abs(ref), 4 * Math.abs(other - ref)));
    for (let step = 0; step < 3; step++) {
      const hyper = { lr: 0.02, weightDecay: 1e-4, clipNorm: 5, dropPathRate: 0.3, step };
      const a = await gpu.trainStep(images, labels, hyper);
      const b = await cpu.trainStep(images, labels, hyper);
      const c = await unfused.trainStep(images, labels, hyper);
      within(a.loss, b.loss, c.loss, 1e-4);
      within(a.gradNorm, b.gradNorm, c.gradNorm, 1e-3);
      expect(a.correct).toBe(b.correct);
    }
    let worst = 0;
    let spread = 0;
    for (const name of cs.names()) {
      worst = Math.max(worst, maxRelativeDifference(gs.get(name)!.data, cs.get(name)!.data));
      spread = Math.max(spread, maxRelativeDifference(us.get(name)!.data, cs.get(name)!.data));
    }
    expect(worst).toBeLessThan(Math.max(1e-3, 4 * spread));
    // Evaluate and predict with the weights the three plans reached.
    within((await gpu.evaluate(images, labels)).loss, (await cpu.evaluate(images, labels)).loss, (await unfused.evaluate(images, labels)).loss, 1e-4);
    const logits = await cpu.predict(images);
    const logitSpread = maxRelativeDifference(await unfused.predict(images), logits);
    expect(maxRelativeDifference(await gpu.predict(images), logits)).toBeLessThan(Math.max(1e-4, 4 * logitSpread));
    for (const p of [cpu, unfused, gpu]) p.dispose();
  });

  it('a step replayed as a CUDA graph equals the same step launched kernel by kernel', async () => {
    const s1 = new ParameterStore();
    const s2 = new ParameterStore();
    const eager = Plan.compileSync(net.graph, s1, { batch: B, seed: 4, backend: 'cuda', graphs: false });
    const graph = Plan.compileSync(net.graph, s2, { batch: B, seed: 4, backend: 'cuda' });
    // Eager (sizing the scratch), then captured and launched as a graph in input slot 1, then in slot 0.
    for (let step = 0; step < 3; step++) {
      const hyper = { lr: 0.05 / (1 + step), dropPathRate: 0.1 * step, step };
      expect(await graph.trainStep(images, labels, hyper)).toEqual(await eager.trainStep(images, labels, hyper));
    }
    for (const name of s1.names()) expect(s2.get(name)!.data).toEqual(s1.get(name)!.data);
    expect(eager.description.graphs).toMatch(/^off/);
    eager.dispose();
    graph.dispose();
  });

  for (const graphs of [true, false]) {
    it(`batches staged ahead while a step runs equal batches given one by one (CUDA graphs ${graphs ? 'on' : 'off'})`, async () => {
      // The next batch is staged (copied, and uploaded on the copy stream) while the step runs: the
      // same numbers bit for bit as arrays given one by one, and close to the CPU's (a step that did
      // not wait for its upload would read the slot's previous batch, or NaN-filled new memory here).
      const tiny = tinyClassifier({ classes: 4 });
      const batch = 4;
      const steps = 5;
      const batches = Array.from({ length: steps + 1 }, (_, i) => ({
        images: randomFloats(batch * 3 * 8 * 8, 30 + i),
        labels: Int32Array.from({ length: batch }, (_, j) => (i + j * 3) % 4),
      }));
      const s1 = new ParameterStore();
      const s2 = new ParameterStore();
      const s3 = new ParameterStore();
      const direct = Plan.compileSync(tiny, s1, { batch, seed: 2, backend: 'cuda', graphs });
      const staged = Plan.compileSync(tiny, s2, { batch, seed: 2, backend: 'cuda', graphs });
      const cpu = Plan.compileSync(tiny, s3, { batch, seed: 2 });
      let next: StagedBatch = staged.stage(batches[0]!.images, batches[0]!.labels);
      for (let i = 0; i < steps; i++) {
        const hyper = { lr: 0.1 / (1 + i), clipNorm: 2, step: i };
        const running = staged.trainStep(next, hyper);
        const images = batches[i + 1]!.images.slice();
        next = staged.stage(images, batches[i + 1]!.labels); // while the step runs
        images.fill(1e30); // copied already: no step may see this
        const b = await running;
        const a = await direct.trainStep(batches[i]!.images, batches[i]!.labels, hyper);
        const c = await cpu.trainStep(batches[i]!.images, batches[i]!.labels, hyper);
        expect(b).toEqual(a);
        expect(Math.abs(b.loss - c.loss)).toBeLessThan(1e-3 * c.loss);
      }
      for (const name of s1.names()) expect(s2.get(name)!.data).toEqual(s1.get(name)!.data);
      // The last staged batch: evaluate it, then predict one staged without labels.
      const last = batches[steps]!;
      expect(await staged.evaluate(next)).toEqual(await direct.evaluate(last.images, last.labels));
      expect(await staged.predict(staged.stage(last.images))).toEqual(await direct.predict(last.images));
      for (const p of [direct, staged, cpu]) p.dispose();
    });
  }

  it('staging misuse is a clear error: twice, a batch run already, of another plan, wrong shape, after dispose', async () => {
    const tiny = tinyClassifier({ classes: 4 });
    const batch = 2;
    const images = randomFloats(batch * 3 * 8 * 8, 7);
    const labels = Int32Array.from([1, 3]);
    const p = Plan.compileSync(tiny, new ParameterStore(), { batch, seed: 2, backend: 'cuda' });
    const q = Plan.compileSync(tiny, new ParameterStore(), { batch, seed: 2, backend: 'cuda' });
    const a = p.stage(images, labels);
    expect(() => p.stage(images, labels)).toThrow(/is staged and no step has run it yet/);
    expect(() => q.stage(images.subarray(1), labels)).toThrow(ValidationError);
    expect(() => q.stage(images, Int32Array.from([1, 4]))).toThrow(/labels\[1\] = 4 is outside \[0, 4\)/);
    await expect(q.trainStep(a, { lr: 0.1 })).rejects.toThrow(/another plan/);
    await p.trainStep(a, { lr: 0.1 });
    await expect(p.trainStep(a, { lr: 0.1 })).rejects.toThrow(/is not the batch staged on this plan/);
    const unlabeled = p.stage(images);
    await expect(p.trainStep(unlabeled, { lr: 0.1 })).rejects.toThrow(/has no labels/);
    expect((await p.predict(unlabeled)).length).toBe(batch * 4);
    const dropped = p.stage(images, labels);
    p.dispose(); // drops the staged batch (its upload finishes first)
    await expect(p.trainStep(dropped, { lr: 0.1 })).rejects.toThrow(/plan was disposed/);
    q.dispose();
  });

  it('keeps the store in sync: get, set, a CPU plan on the same store, dispose', async () => {
    const store = new ParameterStore();
    const gpu = Plan.compileSync(net.graph, store, { batch: B, seed: 4, backend: 'cuda' });
    const before = store.get('head/fc/W')!.data.slice();
    await gpu.trainStep(images, labels, { lr: 0.1, step: 0 });
    const after = store.get('head/fc/W')!.data;
    expect(after).not.toEqual(before);  // read back from the device
    // A host write reaches the next device step: zero classifier gives uniform logits.
    store.set('head/fc/W', new Float32Array(after.length));
    store.set('head/fc/B', new Float32Array(store.get('head/fc/B')!.data.length));
    const logits = await gpu.predict(images);
    expect(Math.max(...logits) - Math.min(...logits)).toBe(0);
    // A CPU plan on the same store continues from the device's values, and back.
    const cpu = Plan.compileSync(net.graph, store, { batch: B, seed: 4 });
    await gpu.trainStep(images, labels, { lr: 0.1, step: 1 });
    const fromDevice = store.get('head/fc/W')!.data;
    const c = await cpu.evaluate(images, labels);
    const g = await gpu.evaluate(images, labels);
    expect(Math.abs(c.loss - g.loss)).toBeLessThan(1e-4 * g.loss);
    await cpu.trainStep(images, labels, { lr: 0.1, step: 2 });
    const g2 = await gpu.evaluate(images, labels);
    const c2 = await cpu.evaluate(images, labels);
    expect(Math.abs(c2.loss - g2.loss)).toBeLessThan(1e-4 * c2.loss);
    expect(store.get('head/fc/W')!.data).not.toEqual(fromDevice);
    gpu.dispose();
    cpu.dispose();
    expect(store.get('head/fc/W')!.data.length).toBe(fromDevice.length);
  });

  it('saves a checkpoint from CUDA and resumes on the CPU, and back', async () => {
    const a = new ParameterStore();
    const gpu = Plan.compileSync(net.graph, a, { batch: B, seed: 4, backend: 'cuda' });
    await gpu.trainStep(images, labels, { lr: 0.05, step: 0 });
    const file = join(dir, 'cuda.safetensors');
    saveCheckpoint(file, a, { format: 'nasnet-checkpoint-1', irVersion: IR_VERSION, epoch: 1, step: 1 });
    const b = new ParameterStore();
    loadCheckpoint(file, b);
    const cpu = Plan.compileSync(net.graph, b, { batch: B, seed: 4 });
    const onCpu = await cpu.trainStep(images, labels, { lr: 0.05, step: 1 });
    const onGpu = await gpu.trainStep(images, labels, { lr: 0.05, step: 1 });
    expect(Math.abs(onCpu.loss - onGpu.loss)).toBeLessThan(1e-4 * onGpu.loss);
    saveCheckpoint(file, b, { format: 'nasnet-checkpoint-1', irVersion: IR_VERSION, epoch: 2, step: 2 });
    const c = new ParameterStore();
    loadCheckpoint(file, c);
    const back = Plan.compileSync(net.graph, c, { batch: B, seed: 4, backend: 'cuda' });
    const r1 = await back.trainStep(images, labels, { lr: 0.05, step: 2 });
    const r2 = await cpu.trainStep(images, labels, { lr: 0.05, step: 2 });
    expect(Math.abs(r1.loss - r2.loss)).toBeLessThan(1e-4 * r2.loss);
    for (const p of [gpu, cpu, back]) p.dispose();
  });

  it('train() on CUDA resumes on the CPU from its checkpoint', async () => {
    const tiny = {
      genotype: NASNET_A,
      dataset: 'fashion-mnist-mini',
      network: { cellsPerStack: 1, filters: 4, stemMultiplier: 2 },
      batchSize: 8,
      maxBatchesPerEpoch: 2,
      maxEvalImages: 16,
      seed: 3,
    } as const;
    const checkpoint = join(dir, 'train.safetensors');
    const first = await train({ ...tiny, epochs: 1, checkpoint, backend: 'cuda' });
    const resumed = await train({ ...tiny, epochs: 2, checkpoint, backend: 'cpu' });
    const straight = await train({ ...tiny, epochs: 2 });
    expect(first.epochs).toHaveLength(1);
    expect(resumed.resumedFromEpoch).toBe(1);
    // Two epochs of float sums in another order: within 1% (a resume that lost the weights is off by far more).
    expect(Math.abs(resumed.epochs[0]!.trainLoss - straight.epochs[1]!.trainLoss)).toBeLessThan(1e-2 * straight.epochs[1]!.trainLoss);
  });

  it('names the device and the failure', async () => {
    const store = new ParameterStore();
    expect(() => Plan.compileSync(net.graph, store, { batch: B, backend: 'cuda', device: 9 })).toThrow(/device 9 does not exist/);
    expect(() => Plan.compileSync(net.graph, store, { batch: B, backend: 'gpu' as 'cuda' })).toThrow(/backend/);
    const auto = Plan.compileSync(net.graph, store, { batch: B, backend: 'auto' });
    expect(auto.description.backend).toBe('cuda');
    expect(auto.description.notice).toBe('');
    auto.dispose();
    expect(report.available).toEqual(['cuda', 'cpu']);
  });
});

describe.skipIf(cuda)(titled('CUDA where no device is usable', cuda, 'a CUDA device is usable here; npm test runs it with the CPU-only addon'), () => {
  it("'auto' falls back to the CPU with the reason; 'cuda' fails with it", () => {
    const store = new ParameterStore();
    const auto = Plan.compileSync(net.graph, store, { batch: B, backend: 'auto' });
    expect(auto.description.backend).toBe('cpu');
    expect(auto.description.notice).toMatch(/^cuda unavailable \(.+\): running on the cpu$/);
    auto.dispose();
    expect(() => Plan.compileSync(net.graph, store, { batch: B, backend: 'cuda' })).toThrow(/cuda|CUDA/);
  });
});
