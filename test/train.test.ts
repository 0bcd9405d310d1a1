import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { NASNET_A } from '../lib/cells/genotypes.js';
import { createStrategy } from '../lib/controller/create-strategy.js';
import { Plan } from '../lib/engine/plan.js';
import { exportOnnx } from '../lib/onnx/export.js';
import { readCheckpoint } from '../lib/train/checkpoint.js';
import { cosineLr, dropPathRate } from '../lib/train/schedule.js';
import { setupTraining } from '../lib/train/setup.js';
import { train } from '../lib/train/train.js';
import { randomFloats } from './helpers/tiny-graph.js';
import { TINY_TRAIN } from './helpers/tiny-train.js';

const dir = mkdtempSync(join(tmpdir(), 'nasnet-train-'));
const tiny = TINY_TRAIN;

describe('schedules', () => {
  it('cosine decay runs from base to 0', () => {
    expect(cosineLr(0, 100, 0.1)).toBeCloseTo(0.1, 12);
    expect(cosineLr(50, 100, 0.1)).toBeCloseTo(0.05, 12);
    expect(cosineLr(100, 100, 0.1)).toBeCloseTo(0, 12);
  });
  it('ScheduledDropPath grows linearly with progress (slim v3), constant in layer mode', () => {
    expect(dropPathRate(0.6, 0)).toBe(0);
    expect(dropPathRate(0.6, 0.5)).toBeCloseTo(0.2, 12);
    expect(dropPathRate(0.6, 1)).toBeCloseTo(0.4, 12);
    expect(dropPathRate(0.6, 0.25, 'layer')).toBeCloseTo(0.4, 12);
    expect(dropPathRate(1, 0.7)).toBe(0);
  });

  it("'time' mode (slim v1) ignores depth: every cell drops at progress × (1 − keep), unlike the default", async () => {
    const opts = { genotype: NASNET_A, dataset: 'fashion-mnist-mini', network: { cellsPerStack: 1, filters: 4 }, batchSize: 16 } as const;
    const ratios = (s: Awaited<ReturnType<typeof setupTraining>>) => [
      ...new Set(s.network.graph.nodes.filter((n) => n.op === 'DropPath').map((n) => n.attrs!.layer_ratio as number)),
    ];
    const time = await setupTraining({ ...opts, dropPathMode: 'time' });
    const both = await setupTraining(opts);
    expect(ratios(time)).toEqual([1]);
    expect(ratios(both)).toHaveLength(5);
    // The drop probability the engine applies to a node is rate × layer_ratio.
    const firstCell = Math.min(...ratios(both));
    expect(dropPathRate(0.6, 0.5, 'time') * ratios(time)[0]).toBeCloseTo(0.2, 12);
    expect(dropPathRate(0.6, 0.5) * firstCell).toBeCloseTo(0.2 / 5, 12);
    await expect(setupTraining({ ...opts, dropPathMode: 'time', network: { ...opts.network, dropPathDepthScaling: true } })).rejects.toThrow(
      "network.dropPathDepthScaling true contradicts dropPathMode 'time'",
    );
  });
});

describe('train()', () => {
  it('trains NASNet-A with the aux head and DropPath, writes metrics and a checkpoint', async () => {
    const metricsFile = join(dir, 'm.jsonl');
    const checkpoint = join(dir, 'a.safetensors');
    const r = await train({ ...tiny, genotype: NASNET_A, epochs: 1, metricsFile, checkpoint, dropPathKeep: 0.7 });
    expect(r.diverged).toBe(false);
    expect(r.epochs).toHaveLength(1);
    expect(r.accuracy).toBeGreaterThanOrEqual(0);
    expect(r.accuracy).toBeLessThanOrEqual(1);
    expect(Number.isFinite(r.epochs[0].trainLoss)).toBe(true);
    expect(r.params).toBeGreaterThan(1000);
    const lines = readFileSync(metricsFile, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]).epoch).toBe(1);
    const ck = readCheckpoint(checkpoint);
    expect(ck.meta.epoch).toBe(1);
    expect(ck.meta.step).toBe(4);
    expect(ck.tensors.size).toBe(r.store.names().length);
    expect([...ck.tensors.keys()].some((n) => n.endsWith('#momentum'))).toBe(true);
  });

  it('resumes from a checkpoint exactly (same losses as an uninterrupted run)', async () => {
    const straight = await train({ ...tiny, genotype: NASNET_A, epochs: 2, checkpoint: join(dir, 'straight.safetensors') });
    const ck = join(dir, 'resumed.safetensors');
    const first = await train({ ...tiny, genotype: NASNET_A, epochs: 2, checkpoint: ck, maxBatchesPerEpoch: 4, onEpoch: () => {
      throw new Error('stop after epoch 1');
    } }).catch((e: Error) => e);
    expect((first as Error).message).toBe('stop after epoch 1');
    expect(existsSync(ck)).toBe(true);
    const resumed = await train({ ...tiny, genotype: NASNET_A, epochs: 2, checkpoint: ck });
    expect(resumed.resumedFromEpoch).toBe(1);
    expect(resumed.epochs).toHaveLength(1);
    expect(resumed.epochs[0].trainLoss).toBe(straight.epochs[1].trainLoss);
    expect(resumed.epochs[0].evalAccuracy).toBe(straight.epochs[1].evalAccuracy);
  });

  it('reports divergence instead of training on NaN', async () => {
    const r = await train({ ...tiny, genotype: NASNET_A, epochs: 1, lr: 1e12, clipNorm: 0, maxBatchesPerEpoch: 8 });
    expect(r.diverged).toBe(true);
    expect(Number.isNaN(r.accuracy)).toBe(true);
  });
});

describe('ONNX export matches the engine in ONNX Runtime', () => {
  const cases = [
    ['NASNet-A', NASNET_A],
    ['a sampled genotype', createStrategy('random', { seed: 3 }).propose(1)[0].genotype],
    ['another sampled genotype', createStrategy('random', { seed: 4 }).propose(1)[0].genotype],
  ] as const;
  for (const [label, genotype] of cases) {
    it(`${label}: logits agree within 1e-4 relative`, async () => {
      const r = await train({ ...tiny, genotype, epochs: 1, maxBatchesPerEpoch: 2 });
      const plan = Plan.compileSync(r.network.inference, r.store, { batch: 4, training: false });
      const [, c, h, w] = plan.inputShape;
      const images = randomFloats(4 * c * h * w, 99);
      const ours = await plan.predict(images);
      plan.dispose();
      const session = await ort.InferenceSession.create(exportOnnx(r.network.inference, r.store));
      const out = await session.run({ images: new ort.Tensor('float32', images, [4, c, h, w]) });
      const theirs = out[session.outputNames[0]].data as Float32Array;
      expect(theirs.length).toBe(ours.length);
      let scale = 0;
      for (const v of theirs) scale = Math.max(scale, Math.abs(v));
      for (let i = 0; i < ours.length; i++) expect(Math.abs(ours[i] - theirs[i])).toBeLessThanOrEqual(1e-4 * Math.max(scale, 1e-3));
    });
  }
});
