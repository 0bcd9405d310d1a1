import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { countGenotype } from '../lib/cells/counts.js';
import type { Genotype } from '../lib/cells/genotype-types.js';
import { NASNET_A } from '../lib/cells/genotypes.js';
import { presetOptions } from '../lib/cells/presets.js';
import { matchParams } from '../lib/cells/sizing.js';
import { createStrategy } from '../lib/controller/create-strategy.js';
import { transfer } from '../lib/train/transfer.js';
import { removeTempDirs, tempDir, writeImageFolder } from './helpers/data-fixtures.js';

afterAll(removeTempDirs);

// A searched cell with 3 concatenated outputs in the normal cell (P = 12 F, not 24 F) and 2 in the
// reduction cell; only `add` blocks, so every op sees F channels except those reading a raw h_{i-1}.
const SEARCHED = {
  normal: {
    blocks: [
      { inputs: [0, 1], ops: ['sep_conv_3x3', 'identity'], combine: 'add' },
      { inputs: [1, 0], ops: ['avg_pool_3x3', 'sep_conv_5x5'], combine: 'add' },
      { inputs: [0, 0], ops: ['conv_1x1', 'max_pool_3x3'], combine: 'add' },
    ],
  },
  reduction: {
    blocks: [
      { inputs: [0, 1], ops: ['sep_conv_5x5', 'max_pool_3x3'], combine: 'add' },
      { inputs: [0, 2], ops: ['identity', 'sep_conv_3x3'], combine: 'add' },
      { inputs: [1, 2], ops: ['avg_pool_3x3', 'identity'], combine: 'add' },
    ],
  },
} as unknown as Genotype;

interface State {
  c: number; // channels
  s: number; // spatial level (each reduction adds 1)
}

/**
 * Trainable parameters of SEARCHED, counted by hand from TF-slim's construction (not from the IR):
 * a conv is in·out·kh·kw, a depthwise conv C·k², BN 2C (scale, bias), a separable conv two
 * (depthwise + pointwise + BN) units, a factorized reduction in·out + 2·out, the classifier in·K + K;
 * the auxiliary head is excluded.
 */
function handCount(o: { stem: 'cifar' | 'imagenet'; N: number; F: number; m: number; K: number; skip: boolean }): number {
  let p = 0;
  const sep = (k: number, f: number) => 2 * (k * k * f + f * f + 2 * f);
  const unit = (cin: number, f: number) => cin * f + 2 * f; // ReLU → 1×1 conv → BN, or a factorized reduction
  // The cell's two inputs: h_i through the base 1×1 unit; h_{i-1} matched to f (null: h_i raw, unmatched).
  const inputs = (f: number, hi: State, prev: State | null): number => {
    p += unit(hi.c, f);
    if (prev === null) return hi.c;
    if (prev.s !== hi.s || prev.c !== f) p += unit(prev.c, f);
    return f;
  };
  const normal = (f: number, hi: State, prev: State | null): State => {
    const c1 = inputs(f, hi, prev);
    const widen = c1 !== f ? unit(c1, f) : 0; // identity or a pool on a raw h_{i-1}
    p += sep(3, f) + widen; // block0: sep3(h_i) + identity(h_{i-1})
    p += widen + sep(5, f); // block1: avg(h_{i-1}) + sep5(h_i)
    p += f * f + 2 * f; // block2: conv1x1(h_i) + max(h_i)
    return { c: 3 * f, s: hi.s };
  };
  const reduction = (f: number, hi: State, prev: State | null): State => {
    const c1 = inputs(f, hi, prev);
    const widen = c1 !== f ? unit(c1, f) : 0;
    p += sep(5, f) + widen; // block0: sep5(h_i, s2) + max(h_{i-1}, s2)
    p += f * f + 2 * f + sep(3, f); // block1: identity(h_i, s2) = 1×1 conv + BN; sep3(block0)
    p += widen; // block2: avg(h_{i-1}, s2) + identity(block0)
    return { c: 2 * f, s: hi.s + 1 };
  };
  const outputs: (State | null)[] = [null];
  if (o.stem === 'cifar') {
    const S = Math.floor(o.F * o.m);
    p += 27 * S + 2 * S;
    outputs.push({ c: S, s: 0 });
  } else {
    const S = Math.floor(32 * o.m);
    p += 27 * S + 2 * S;
    outputs.push({ c: S, s: 0 });
    outputs.push(reduction(Math.floor(o.F / 4), outputs[1]!, null));
    outputs.push(reduction(Math.floor(o.F / 2), outputs[2]!, outputs[1]!));
  }
  const cells = 3 * o.N;
  const redAt = [Math.floor(cells / 3), Math.floor((2 * cells) / 3)];
  let f = o.F;
  for (let c = 0; c < cells; c++) {
    const skipPrev = outputs[outputs.length - 2];
    if (redAt.includes(c)) {
      f *= 2;
      outputs.push(reduction(f, outputs[outputs.length - 1]!, outputs[outputs.length - 2]));
    }
    const prev = o.skip ? skipPrev : outputs[outputs.length - 2];
    outputs.push(normal(f, outputs[outputs.length - 1]!, prev));
  }
  const last = outputs[outputs.length - 1]!;
  return p + last.c * o.K + o.K;
}

describe('a searched cell at the published scales', () => {
  it('counts match a hand count at CIFAR 6@F=32, mobile 4@44 and large 6@168 (with skip_reduction_layer_input)', () => {
    const scales = [
      { preset: 'nasnet-a-cifar', hand: { stem: 'cifar', N: 6, F: 32, m: 3, K: 10, skip: false } },
      { preset: 'nasnet-a-mobile', hand: { stem: 'imagenet', N: 4, F: 44, m: 1, K: 1000, skip: false } },
      { preset: 'nasnet-a-large', hand: { stem: 'imagenet', N: 6, F: 168, m: 3, K: 1000, skip: true } },
    ] as const;
    for (const { preset, hand } of scales) {
      expect(countGenotype(SEARCHED, presetOptions(preset)).params, preset).toBe(handCount(hand));
    }
    // The network is named by its real penultimate width: 4 × 3 F.
    expect(countGenotype(SEARCHED, presetOptions('nasnet-a-cifar')).params).toBeGreaterThan(0);
  });

  it('transfer() dry runs report the searched counts beside NASNet-A at each scale', async () => {
    const cifar = await transfer({ genotype: SEARCHED, to: 'cifar', dryRun: true });
    expect(cifar.preset).toBe('nasnet-a-cifar');
    expect(cifar.searched).toMatchObject({ name: '6@384', N: 6, F: 32, params: handCount({ stem: 'cifar', N: 6, F: 32, m: 3, K: 10, skip: false }) });
    expect(cifar.reference).toEqual({ name: '6@768', N: 6, F: 32, params: 3346538, multAdds: 544333312 });
    const mobile = await transfer({ genotype: SEARCHED, to: 'mobile', dryRun: true });
    expect(mobile.reference).toMatchObject({ name: '4@1056', params: 5289978, multAdds: 563638816 });
    expect(mobile.searched).toMatchObject({ name: '4@528', F: 44 });
    const large = await transfer({ genotype: SEARCHED, to: 'large', dryRun: true });
    expect(large.reference).toMatchObject({ name: '6@4032', params: 88753150 });
    expect(large.searched.params).toBe(handCount({ stem: 'imagenet', N: 6, F: 168, m: 3, K: 1000, skip: true }));
    // Sized by the penultimate width of the cell itself: 768 = 12 F gives F = 64.
    const byP = await transfer({ genotype: SEARCHED, to: 'cifar', penultimate: 768, dryRun: true });
    expect(byP.searched).toMatchObject({ name: '6@768', F: 64 });
    expect(byP.sizing).toBe('penultimate');
    await expect(transfer({ genotype: SEARCHED, to: 'cifar', penultimate: 100, dryRun: true })).rejects.toThrow(
      'Expected a multiple of 12 (P = 12 F for this genotype (its normal cell outputs 3 × F channels)) for penultimate but received 100 of type number',
    );
    await expect(transfer({ genotype: SEARCHED, to: 'moon' as never, dryRun: true })).rejects.toThrow(
      "Unknown transfer target 'moon' (known: cifar, mobile, large, or { n, filters, ... })",
    );
  });

  it('match-params picks an F within 5% of NASNet-A at every scale (the searched cell and random cells)', async () => {
    const random = createStrategy('random', { seed: 7 }).propose(3).map((c) => c.genotype);
    for (const preset of ['nasnet-a-cifar', 'nasnet-a-mobile'] as const) {
      const options = presetOptions(preset);
      const target = countGenotype(NASNET_A, options).params;
      for (const g of [SEARCHED, ...random]) {
        const m = matchParams(g, target, options);
        expect(Math.abs(m.params / target - 1), `${preset} F=${m.filters}`).toBeLessThan(0.05);
        expect(m.params).toBe(countGenotype(g, { ...options, filters: m.filters }).params);
      }
    }
    const large = await transfer({ genotype: SEARCHED, to: 'large', matchParams: NASNET_A, dryRun: true });
    expect(large.sizing).toBe('match-params');
    expect(Math.abs(large.searched.params / large.reference.params - 1)).toBeLessThan(0.05);
    // Matching NASNet-A itself gives back its own F.
    expect(matchParams(NASNET_A, 3346538, presetOptions('nasnet-a-cifar')).filters).toBe(32);
  });
});

describe('transfer() end to end, a few steps on tiny data', () => {
  const tiny = { network: { cellsPerStack: 1 }, filters: 8, epochs: 1, maxBatchesPerEpoch: 2, batchSize: 4, maxEvalImages: 8, seed: 3 } as const;

  it('cifar: the CIFAR recipe on the embedded Fashion-MNIST (3 channels, padded to 32, all 3,000 images)', async () => {
    const log: string[] = [];
    const r = await transfer({ ...tiny, genotype: SEARCHED, to: 'cifar', dataset: 'fashion-mnist-mini', onLog: (l) => log.push(l) });
    const t = r.train!;
    expect(t.diverged).toBe(false);
    expect(t.epochs).toHaveLength(1);
    expect(t.epochs[0]).toMatchObject({ step: 2, evalSplit: 'test' });
    expect(Number.isFinite(t.epochs[0].trainLoss)).toBe(true);
    expect(t.hyper).toMatchObject({ optimizer: 'sgd', lr: 0.025 * (4 / 32), lrSchedule: 'cosine', weightDecay: 5e-4, clipNorm: 5, dropPathKeep: 0.6, cutout: 16 });
    expect(t.network.meta.options).toMatchObject({ stem: 'cifar', inputSize: [32, 32], inputChannels: 3, filters: 8, cellsPerStack: 1 });
    expect(r.searched.name).toBe('1@96');
    expect(r.reference.name).toBe('1@768');
    expect(log).toContain('data: training on all 3,000 training images (no validation split held out); evaluating on the test split');
  });

  it('mobile: a 224-px ImageNet-stem network trained from an image folder through Inception preprocessing', async () => {
    const root = tempDir();
    await writeImageFolder(join(root, 'train'), 3, 3, 120, 90);
    await writeImageFolder(join(root, 'val'), 3, 1, 120, 90);
    const r = await transfer({ ...tiny, genotype: SEARCHED, to: 'mobile', dataset: `folder:${root}` });
    const t = r.train!;
    expect(t.diverged).toBe(false);
    expect(t.setup.data.preprocessing).toBe('inception');
    expect(t.setup.data.augment).toEqual({ crop: true, flip: true, colorDistortion: 'fast' });
    expect(t.setup.data.info).toMatchObject({ height: 224, width: 224, channels: 3, classes: 3, mean: [0.5, 0.5, 0.5] });
    expect(t.network.meta.options).toMatchObject({ stem: 'imagenet', inputSize: [224, 224], labelSmoothing: 0.1, denseDropoutKeep: 0.5 });
    expect(t.hyper).toMatchObject({ optimizer: 'rmsprop', lr: 0.04 * (4 / 32), lrSchedule: 'exponential', weightDecay: 4e-5, clipNorm: 10, ema: 0.9999 });
    expect(t.epochs[0]).toMatchObject({ step: 2, evalSplit: 'test' });
    expect(t.accuracy).toBeGreaterThanOrEqual(0);
  });

  it('large: the large recipe (stem × 3, skip_reduction_layer_input, drop-path keep 0.7) at a small input', async () => {
    const r = await transfer({ ...tiny, genotype: SEARCHED, to: 'large', dataset: 'fashion-mnist-mini', dataOptions: { size: 96 } });
    const t = r.train!;
    expect(t.diverged).toBe(false);
    expect(t.network.meta.options).toMatchObject({ stem: 'imagenet', stemMultiplier: 3, skipReductionLayerInput: true, inputSize: [96, 96] });
    expect(t.hyper).toMatchObject({ lr: 0.015 * (4 / 16), weightDecay: 5e-5, dropPathKeep: 0.7 });
    expect(t.epochs[0].dropPathRate).toBeGreaterThan(0);
  });
});
