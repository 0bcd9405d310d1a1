import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { NASNET_A } from '../lib/cells/genotypes.js';
import { createLoader } from '../lib/data/loader.js';
import { Plan } from '../lib/engine/plan.js';
import { ParameterStore } from '../lib/engine/store.js';
import { ValidationError } from '../lib/errors.js';
import { exportOnnx } from '../lib/onnx/export.js';
import { loadCheckpoint, readCheckpoint } from '../lib/train/checkpoint.js';
import { train } from '../lib/train/train.js';
import { randomFloats, tinyClassifier } from './helpers/tiny-graph.js';

const dir = mkdtempSync(join(tmpdir(), 'nasnet-ema-'));

/** A store holding the shadows of `store` as its raw parameters: what an averaged model is. */
function averagedCopy(store: ParameterStore): ParameterStore {
  const copy = new ParameterStore();
  for (const name of store.names()) {
    if (!name.endsWith('#ema')) continue;
    const t = store.get(name)!;
    copy.set(name.slice(0, -'#ema'.length), t.data, t.shape);
  }
  return copy;
}

describe('parameter EMA in the engine', () => {
  it('after k steps the shadows equal the closed form of the values the parameters took', async () => {
    const graph = tinyClassifier();
    const store = new ParameterStore();
    const decay = 0.6; // (1 + t) / (10 + t) reaches 0.6 at t = 12.5: both regimes in 16 steps
    const plan = await Plan.compile(graph, store, { batch: 4, ema: decay, seed: 2 });
    const names = ['net/stem/W', 'net/fc/W', 'net/sep/bn/mean'];
    const seen = names.map((n) => [Float64Array.from(store.get(n)!.data)]);
    for (const n of names) expect(store.get(`${n}#ema`)!.data).toEqual(store.get(n)!.data);
    const images = randomFloats(4 * 3 * 8 * 8, 9);
    const labels = Int32Array.from([0, 1, 2, 3]);
    const k = 16;
    for (let t = 0; t < k; t++) {
      await plan.trainStep(images, labels, { lr: 0.05, momentum: 0.9, step: t, dropPathRate: 0.1 });
      for (const [i, n] of names.entries()) seen[i].push(Float64Array.from(store.get(n)!.data));
    }
    const d = Array.from({ length: k }, (_, t) => Math.min(decay, (1 + t) / (10 + t)));
    names.forEach((n, i) => {
      const got = store.get(`${n}#ema`)!.data;
      for (let j = 0; j < got.length; j++) {
        // s_k = (prod_t d_t) w_0 + sum_t (1 - d_t) (prod_{u>t} d_u) w_{t+1}
        let want = d.reduce((a, b) => a * b, 1) * seen[i][0][j];
        for (let t = 0; t < k; t++) want += (1 - d[t]) * d.slice(t + 1).reduce((a, b) => a * b, 1) * seen[i][t + 1][j];
        expect(Math.abs(got[j] - want), `${n}[${j}]`).toBeLessThanOrEqual(1e-5 * Math.abs(want) + 1e-6);
      }
    });
    plan.dispose();
  });

  it('evaluate and predict with useEma compute what the averaged parameters compute; errors say why', async () => {
    const graph = tinyClassifier();
    const store = new ParameterStore();
    const plan = await Plan.compile(graph, store, { batch: 4, ema: 0.9, seed: 3 });
    const images = randomFloats(4 * 3 * 8 * 8, 4);
    const labels = Int32Array.from([3, 2, 1, 0]);
    for (let t = 0; t < 6; t++) await plan.trainStep(images, labels, { lr: 0.1, step: t });
    const infer = { ...graph, outputs: [graph.outputs[0]], loss: undefined };
    const averaged = await Plan.compile(infer, store, { batch: 4, training: false, useEma: true });
    const raw = await Plan.compile(infer, store, { batch: 4, training: false });
    const reference = await Plan.compile(infer, averagedCopy(store), { batch: 4, training: false });
    const a = await averaged.predict(images);
    expect(a).toEqual(await reference.predict(images));
    expect(a).not.toEqual(await raw.predict(images));
    expect(await averaged.evaluate(images, labels)).toEqual(await reference.evaluate(images, labels));
    await expect(Plan.compile(infer, new ParameterStore(), { batch: 4, training: false, useEma: true })).rejects.toThrow(
      "param 'net/stem/W': the plan reads parameter averages (use_ema) but the store holds no 'net/stem/W#ema'",
    );
    await expect(Plan.compile(graph, store, { batch: 4, useEma: true })).rejects.toThrow('use_ema applies to inference plans');
    await expect(Plan.compile(graph, store, { batch: 4, ema: 1 })).rejects.toThrow(ValidationError);
    for (const p of [plan, averaged, raw, reference]) p.dispose();
  });

  it('train() with EMA: checkpoints keep the shadows, resume is exact, evaluation and ONNX export use them', async () => {
    const opts = {
      genotype: NASNET_A,
      dataset: 'fashion-mnist-mini',
      network: { cellsPerStack: 1, filters: 4, stemMultiplier: 2 },
      batchSize: 16,
      maxBatchesPerEpoch: 3,
      maxEvalImages: 32,
      seed: 5,
      ema: 0.99,
    } as const;
    const straight = await train({ ...opts, epochs: 2, checkpoint: join(dir, 'straight.safetensors') });
    const ck = join(dir, 'resumed.safetensors');
    const stopped = await train({ ...opts, epochs: 2, checkpoint: ck, onEpoch: () => {
      throw new Error('stop after epoch 1');
    } }).catch((e: Error) => e);
    expect((stopped as Error).message).toBe('stop after epoch 1');
    const first = readCheckpoint(ck);
    expect(first.meta.ema).toBe(0.99);
    const shadows = [...first.tensors.keys()].filter((n) => n.endsWith('#ema'));
    // Every parameter of the graph has its shadow, weights and BN statistics alike.
    expect(shadows.length).toBe(straight.network.graph.params.length);
    const resumed = await train({ ...opts, epochs: 2, checkpoint: ck });
    expect(resumed.resumedFromEpoch).toBe(1);
    for (const name of straight.store.names().filter((n) => n.endsWith('#ema'))) {
      expect(resumed.store.get(name)!.data, name).toEqual(straight.store.get(name)!.data);
    }
    expect(resumed.epochs[0].evalAccuracy).toBe(straight.epochs[1].evalAccuracy);

    // The reported evaluation is that of the averaged parameters.
    const ds = straight.setup.dataset!;
    const loader = createLoader(ds.test, { batchSize: 16 });
    const averaged = await Plan.compile(straight.network.inference, averagedCopy(straight.store), { batch: 16, training: false });
    let correct = 0;
    let seen = 0;
    for await (const b of loader.epoch(0)) {
      const logits = await averaged.predict(b.images);
      for (let r = 0; r < b.size; r++) {
        const row = logits.subarray(r * 10, r * 10 + 10);
        if (row.indexOf(Math.max(...row)) === b.labels[r]) correct++;
      }
      seen += b.size;
      if (seen >= 32) break;
    }
    expect(correct / seen).toBe(straight.accuracy);

    // ONNX export of the averages matches predict with useEma.
    const onnx = exportOnnx(straight.network.inference, straight.store, { useEma: true });
    const session = await ort.InferenceSession.create(onnx);
    const images = randomFloats(2 * 1 * 28 * 28, 6);
    const out = await session.run({ images: new ort.Tensor('float32', images, [2, 1, 28, 28]) });
    const ema = await Plan.compile(straight.network.inference, straight.store, { batch: 2, training: false, useEma: true });
    const want = await ema.predict(images);
    const got = out[session.outputNames[0]].data as Float32Array;
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-4 * Math.abs(want[i]) + 1e-4);
    expect(() => exportOnnx(straight.network.inference, averagedCopy(straight.store), { useEma: true })).toThrow("has no average '");
    // A checkpoint loads its shadows back into a store.
    const back = new ParameterStore();
    loadCheckpoint(ck, back);
    expect(back.names().filter((n) => n.endsWith('#ema')).length).toBe(shadows.length);
    averaged.dispose();
    ema.dispose();
  });
});
