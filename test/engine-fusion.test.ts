import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NASNET_A } from '../lib/cells/genotypes.js';
import { buildNetwork } from '../lib/cells/network.js';
import { Plan, summarizeProfile } from '../lib/engine/plan.js';
import { ParameterStore } from '../lib/engine/store.js';
import { ValidationError } from '../lib/errors.js';
import { loadCheckpoint, saveCheckpoint } from '../lib/train/checkpoint.js';
import { randomFloats } from './helpers/tiny-graph.js';

// NASNet-A 1@48 on 16×16 inputs with the auxiliary head: every separable conv, the ReLU-conv-BN
// preprocessing, factorized reductions, pools and DropPath.
const net = buildNetwork(NASNET_A, { cellsPerStack: 1, filters: 8, numClasses: 10, inputSize: 16, auxHead: true });
const B = 4;
const images = randomFloats(B * 3 * 16 * 16, 11);
const labels = Int32Array.from({ length: B }, (_, i) => (i * 3) % 10);

function pair(training = true) {
  const fusedStore = new ParameterStore();
  const plainStore = new ParameterStore();
  const fused = Plan.compileSync(net.graph, fusedStore, { batch: B, seed: 2, training });
  const plain = Plan.compileSync(net.graph, plainStore, { batch: B, seed: 2, training, fuse: false });
  return { fused, plain, fusedStore, plainStore };
}

function maxRelativeDifference(a: Float32Array, b: Float32Array): number {
  let scale = 1e-6;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / scale);
  return worst;
}

describe('plan-level fusion on NASNet-A', () => {
  it('fuses every separable unit and preprocessing conv, and needs less activation memory', () => {
    const { fused, plain } = pair();
    const sep = net.graph.nodes.filter((n) => n.op === 'Conv' && (n.attrs.group ?? 1) > 1).length;
    const f = fused.description;
    const p = plain.description;
    // each depthwise conv is the head of one fused chain; the 1×1 ReLU-conv-BNs add more
    expect(f.fusedChains).toBeGreaterThan(sep);
    expect(f.aliasedTensors).toBeGreaterThan(0);
    expect(f.aliasedGradients).toBeGreaterThan(0);
    expect(p.fusedChains).toBe(0);
    expect(p.aliasedTensors).toBe(0);
    expect(p.aliasedGradients).toBe(0);
    expect(f.activationBytes).toBeLessThan(p.activationBytes);
    expect(f.params).toEqual(p.params);
    fused.dispose();
    plain.dispose();
  });

  it('trains like the unfused plan (losses, weights, running statistics) with DropPath on', async () => {
    const { fused, plain, fusedStore, plainStore } = pair();
    for (let step = 0; step < 3; step++) {
      const hyper = { lr: 0.05, momentum: 0.9, weightDecay: 1e-4, dropPathRate: 0.3, step };
      const a = await fused.trainStep(images, labels, hyper);
      const b = await plain.trainStep(images, labels, hyper);
      expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-4 * Math.abs(b.loss));
      expect(Math.abs(a.gradNorm - b.gradNorm)).toBeLessThan(1e-3 * b.gradNorm);
    }
    let worst = 0;
    for (const name of plainStore.names()) {
      worst = Math.max(worst, maxRelativeDifference(fusedStore.get(name)!.data, plainStore.get(name)!.data));
    }
    expect(worst).toBeLessThan(1e-3);
    const ea = await fused.evaluate(images, labels);
    const eb = await plain.evaluate(images, labels);
    expect(Math.abs(ea.loss - eb.loss)).toBeLessThan(1e-4 * Math.abs(eb.loss));
    expect(maxRelativeDifference(await fused.predict(images), await plain.predict(images))).toBeLessThan(1e-4);
    fused.dispose();
    plain.dispose();
  });

  it('inference plans fold BN into the pointwise weights from the current parameters: equal to unfused plans after train steps, store.set and a checkpoint load', async () => {
    // One store shared by a training plan and fused and unfused inference plans at batch 4 and at
    // batch 1 (fewer images than threads: every stage of one image split over the threads).
    const store = new ParameterStore();
    const train = await Plan.compile(net.graph, store, { batch: B, seed: 2 });
    const plans: { batch: number; fused: Plan; plain: Plan }[] = [];
    for (const batch of [B, 1]) {
      plans.push({
        batch,
        fused: await Plan.compile(net.inference, store, { batch, training: false }),
        plain: await Plan.compile(net.inference, store, { batch, training: false, fuse: false }),
      });
    }
    expect(plans[0]!.fused.description.fusedChains).toBeGreaterThan(0);
    // Each factorized reduction's shifted path runs as its strided 1×1 conv alone (Pad and Slice gone).
    const shifted = net.inference.nodes.filter((n) => n.op === 'Slice').length;
    expect(shifted).toBeGreaterThan(0);
    expect(plans[0]!.fused.description.fusedShifts).toBe(shifted);
    expect(plans[0]!.plain.description.fusedShifts).toBe(0);
    expect(train.description.fusedShifts).toBe(0);
    // The Relu before each factorized reduction is applied by its readers (a chain, and the two
    // strided paths as they sample its input): its output is never stored.
    const stridedPaths = net.inference.nodes.filter((n) => n.op === 'Conv' && n.attrs?.kernel_shape?.[0] === 1 && n.attrs?.strides?.[0] === 2).length;
    expect(stridedPaths).toBeGreaterThan(0);
    expect(plans[0]!.fused.description.reluStridedConvs).toBe(stridedPaths);
    expect(plans[0]!.plain.description.reluStridedConvs).toBe(0);
    expect(train.description.reluStridedConvs).toBe(0);
    // Adds whose input is a separable unit's last fused chain run that chain (NASNet-A: most blocks).
    expect(plans[0]!.fused.description.fusedAdds).toBeGreaterThan(0);
    expect(plans[0]!.plain.description.fusedAdds).toBe(0);
    expect(train.description.fusedAdds).toBe(0);
    // Cell outputs: the fused chains that only a Concat reads write into its slices.
    expect(plans[0]!.fused.description.concatInPlace).toBeGreaterThan(0);
    expect(plans[0]!.plain.description.concatInPlace).toBe(0);
    expect(train.description.concatInPlace).toBe(0);
    const agree = async () => {
      for (const p of plans) {
        const x = images.subarray(0, p.batch * 3 * 16 * 16);
        const a = await p.fused.predict(x);
        const b = await p.plain.predict(x);
        expect(maxRelativeDifference(a, b)).toBeLessThan(1e-4);
      }
      return plans[0]!.fused.predict(images);
    };
    // Random, non-trivial BN statistics and affine parameters.
    const bn = net.inference.params.filter((p) => /\/(scale|bias|mean|var)$/.test(p.name));
    let seed = 40;
    for (const p of bn) {
      const v = randomFloats(p.shape[0]!, seed++);
      store.set(p.name, p.name.endsWith('var') ? v.map((u) => 0.3 + Math.abs(u)) : p.name.endsWith('scale') ? v.map((u) => 1 + 0.5 * u) : v);
    }
    const before = await agree();
    // Train steps move the weights and the running statistics: the folded plans follow.
    for (let step = 0; step < 2; step++) await train.trainStep(images, labels, { lr: 0.1, momentum: 0.9, step });
    const trained = await agree();
    expect(maxRelativeDifference(trained, before)).toBeGreaterThan(1e-3);
    // store.set of one BN's statistics and one pointwise weight.
    const mean = bn.find((p) => p.name.endsWith('mean'))!;
    store.set(mean.name, randomFloats(mean.shape[0]!, 99));
    const pw = net.inference.params.find((p) => p.shape.length === 4 && p.shape[2] === 1 && p.shape[3] === 1)!;
    store.set(pw.name, store.get(pw.name)!.data.map((w) => 2 * w));
    const edited = await agree();
    expect(maxRelativeDifference(edited, trained)).toBeGreaterThan(1e-4);
    // A checkpoint of the state before the edits, loaded back.
    const dir = mkdtempSync(join(tmpdir(), 'nasnet-fold-'));
    try {
      const file = join(dir, 'c.safetensors');
      await train.trainStep(images, labels, { lr: 0.1, momentum: 0.9, step: 2 });
      const saved = await agree();
      saveCheckpoint(file, store, { format: 'nasnet-checkpoint-1', irVersion: 1, step: 3, epoch: 0 });
      store.set(pw.name, store.get(pw.name)!.data.map((w) => -w));
      expect(maxRelativeDifference(await agree(), saved)).toBeGreaterThan(1e-4);
      loadCheckpoint(file, store);
      expect(maxRelativeDifference(await agree(), saved)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    train.dispose();
    for (const p of plans) {
      p.fused.dispose();
      p.plain.dispose();
    }
  });

  it('rejects a fuse option that is not a boolean', () => {
    expect(() => Plan.compileSync(net.graph, new ParameterStore(), { batch: 2, fuse: 'yes' as unknown as boolean })).toThrow(
      ValidationError,
    );
    expect(() => Plan.compileSync(net.graph, new ParameterStore(), { batch: 2, fuse: 'yes' as unknown as boolean })).toThrow(
      'Expected boolean for fuse but received "yes" of type string',
    );
  });
});

describe('plan profiling', () => {
  it('times every node that ran and the optimizer, sums by kind, and resets', async () => {
    const plan = Plan.compileSync(net.graph, new ParameterStore(), { batch: B, seed: 2, profile: true });
    const t0 = performance.now();
    for (let step = 0; step < 2; step++) await plan.trainStep(images, labels, { lr: 0.01, step });
    const wall = performance.now() - t0;
    const rows = plan.profile();
    const fused = rows.filter((r) => r.kind.startsWith('FusedConvBn'));
    expect(fused.length).toBe(plan.description.fusedChains);
    expect(fused.every((r) => r.forwardCalls === 2 && r.backwardCalls === 2 && r.forwardMs > 0 && r.backwardMs > 0)).toBe(true);
    expect(rows.at(-1)).toMatchObject({ id: '(optimizer)', kind: 'SGD update', forwardCalls: 2 });
    expect(rows.some((r) => r.kind === 'MaxPool 3x3 s2')).toBe(true);
    const total = rows.reduce((s, r) => s + r.forwardMs + r.backwardMs, 0);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThanOrEqual(wall);
    const summary = summarizeProfile(rows);
    expect(summary.reduce((s, r) => s + r.nodes, 0)).toBe(rows.length);
    expect(summary.reduce((s, r) => s + r.share, 0)).toBeCloseTo(1, 6);
    for (let i = 1; i < summary.length; i++) {
      expect(summary[i - 1]!.forwardMs + summary[i - 1]!.backwardMs).toBeGreaterThanOrEqual(summary[i]!.forwardMs + summary[i]!.backwardMs);
    }
    await plan.evaluate(images, labels);
    expect(plan.profile().find((r) => r.id === '(optimizer)')!.forwardCalls).toBe(2);
    plan.resetProfile();
    expect(plan.profile()).toEqual([]);
    plan.dispose();
  });

  it('says how to turn profiling on, and refuses a busy plan', async () => {
    const plain = Plan.compileSync(net.graph, new ParameterStore(), { batch: B });
    expect(() => plain.profile()).toThrow(/compile the plan with profile = true/);
    plain.dispose();
    const plan = Plan.compileSync(net.graph, new ParameterStore(), { batch: B, profile: true });
    const running = plan.trainStep(images, labels, { lr: 0.01 });
    expect(() => plan.profile()).toThrow(/plan is busy/);
    await running;
    expect(plan.profile().length).toBeGreaterThan(0);
    plan.dispose();
    expect(() => plan.profile()).toThrow(/disposed/);
  });
});
