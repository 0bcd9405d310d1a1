/**
 * Fault class "non-finite values laundered into a finite answer", through the API: a step on a NaN
 * image reports a NaN loss and gradient norm, predict and evaluate give NaN where the math does (the
 * bad image's row only, in inference), and train() reports `diverged: true` for a learning rate that
 * blows the weights up, also when it is told not to stop, without replacing a good checkpoint.
 * (The kernels themselves: native/tests/nan_propagation_test.cc.)
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Genotype } from '../lib/cells/genotype-types.js';
import { NASNET_A } from '../lib/cells/genotypes.js';
import { buildNetwork } from '../lib/cells/network.js';
import { Plan } from '../lib/engine/plan.js';
import { ParameterStore } from '../lib/engine/store.js';
import { train } from '../lib/train/train.js';
import { randomFloats, tinyClassifier } from './helpers/tiny-graph.js';
import { TINY_TRAIN } from './helpers/tiny-train.js';

const dir = mkdtempSync(join(tmpdir(), 'nasnet-nan-faults-'));
const tiny = { ...TINY_TRAIN, maxBatchesPerEpoch: 3, maxEvalImages: 32, seed: 7 };

describe('NaN is reported, never laundered', () => {
  it('a NaN pixel: NaN logits in its row only (inference), a NaN loss and gradient norm (training)', async () => {
    const B = 4;
    const graph = tinyClassifier({ size: 8, width: 8 });
    const store = new ParameterStore();
    const trainPlan = await Plan.compile(graph, store, { batch: B, seed: 1 });
    const inferPlan = await Plan.compile(graph, store, { batch: B, training: false });
    const images = randomFloats(B * 3 * 8 * 8, 2);
    images[2 * 3 * 64 + 17] = Number.NaN; // image 2
    const labels = Int32Array.from([0, 1, 2, 3]);
    const logits = await inferPlan.predict(images);
    const classes = logits.length / B;
    for (let i = 0; i < logits.length; i++) expect(Number.isNaN(logits[i]), `logit ${i}`).toBe(Math.floor(i / classes) === 2);
    expect(Number.isNaN((await inferPlan.evaluate(images, labels)).loss)).toBe(true);
    const r = await trainPlan.trainStep(images, labels, { lr: 0.1 });
    expect(Number.isNaN(r.loss)).toBe(true);
    expect(Number.isNaN(r.gradNorm)).toBe(true);
    trainPlan.dispose();
    inferPlan.dispose();
  });

  it('batch 1 (the fused single-image inference path): a NaN pixel or weight gives NaN from predict, evaluate and trainStep, fused or not', async () => {
    // Cells of separable convolutions only: every path from the image to the head runs through the
    // ReLU → depthwise → pointwise → BN chains that batch-1 inference fuses in one parallel region
    // (its ReLU once turned a NaN into 0), so no unfused branch can carry the NaN around them.
    const cell = {
      blocks: [
        { inputs: [0, 1], ops: ['sep_conv_3x3', 'sep_conv_5x5'], combine: 'add' },
        { inputs: [0, 2], ops: ['sep_conv_3x3', 'sep_conv_3x3'], combine: 'add' },
      ],
    };
    const net = buildNetwork({ normal: cell, reduction: cell } as unknown as Genotype, { cellsPerStack: 1, filters: 4, numClasses: 3, inputSize: 8, inputChannels: 1, auxHead: false });
    const clean = randomFloats(64, 3);
    const label = Int32Array.from([1]);
    for (const fuse of [true, false]) {
      for (const what of ['a NaN pixel', 'a NaN pointwise weight inside a separable convolution'] as const) {
        const store = new ParameterStore(); // fresh: a NaN step poisons every weight it updates
        const infer = await Plan.compile(net.inference, store, { batch: 1, training: false, fuse });
        const trainPlan = await Plan.compile(net.graph, store, { batch: 1, seed: 2 });
        if (fuse) expect(infer.description.fusedChains).toBeGreaterThan(0);
        expect((await infer.predict(clean)).every(Number.isFinite), `fuse ${fuse}: clean image`).toBe(true);
        const image = Float32Array.from(clean);
        if (what === 'a NaN pixel') image[27] = Number.NaN;
        else {
          const name = store.names().find((n) => /sep_conv.*\/pw\d*\/W$/.test(n))!;
          const w = store.get(name)!.data;
          w[0] = Number.NaN;
          store.set(name, w);
        }
        const logits = await infer.predict(image);
        expect(logits.every(Number.isNaN), `fuse ${fuse}, ${what}: predict ${[...logits]}`).toBe(true);
        expect(Number.isNaN((await infer.evaluate(image, label)).loss), `fuse ${fuse}, ${what}: evaluate`).toBe(true);
        const r = await trainPlan.trainStep(image, label, { lr: 0.1 });
        expect(Number.isNaN(r.loss) && Number.isNaN(r.gradNorm), `fuse ${fuse}, ${what}: trainStep`).toBe(true);
        infer.dispose();
        trainPlan.dispose();
      }
    }
  });

  it('--lr 1e30 is diverged: true (with or without stopping), and the last good checkpoint is kept', async () => {
    const checkpoint = join(dir, 'good.safetensors');
    await train({ ...tiny, genotype: NASNET_A, epochs: 1, checkpoint });
    const good = readFileSync(checkpoint);
    const stopped = await train({ ...tiny, genotype: NASNET_A, epochs: 2, lr: 1e30, checkpoint });
    expect(stopped.diverged).toBe(true);
    expect(Number.isNaN(stopped.accuracy)).toBe(true);
    const kept = await train({ ...tiny, genotype: NASNET_A, epochs: 2, lr: 1e30, checkpoint, stopOnDivergence: false });
    expect(kept.diverged).toBe(true);
    expect(readFileSync(checkpoint).equals(good)).toBe(true);
  });
});
