/**
 * Fault class "the engine reads the caller's buffers after the call returned": every asynchronous
 * call (trainStep, evaluate, predict, compile) copies its inputs before it returns, so the
 * caller may overwrite, transfer (move to a new owner) or detach them — and the memory may be freed
 * and reused — while the step runs. Each case runs a twin plan on pristine copies and requires the
 * same results, bit for bit; a process crash fails the whole file.
 */
import { describe, expect, it } from 'vitest';
import { Plan } from '../lib/engine/plan.js';
import { ParameterStore } from '../lib/engine/store.js';
import { randomFloats, tinyClassifier } from './helpers/tiny-graph.js';

const B = 16;
const graph = tinyClassifier({ size: 16, width: 16 });
const imageLength = B * 3 * 16 * 16;

/** Detaches an ArrayBuffer by transferring it; the new owner is returned (and may be dropped). */
function detach(buffer: ArrayBufferLike): ArrayBuffer {
  return structuredClone(buffer as ArrayBuffer, { transfer: [buffer as ArrayBuffer] });
}

/** Fresh inputs: images and labels in buffers of their own. */
function inputs(seed: number): { images: Float32Array; labels: Int32Array } {
  return { images: randomFloats(imageLength, seed), labels: Int32Array.from({ length: B }, (_, i) => (i * 5 + seed) % 4) };
}

/** What a hostile caller does right after starting a call: each way of losing the buffers. */
const abuses: Record<string, (images: Float32Array, labels: Int32Array) => void> = {
  'overwritten with NaN and bad labels': (images, labels) => {
    images.fill(Number.NaN);
    labels.fill(999);
  },
  'detached (transferred, new owner dropped)': (images, labels) => {
    detach(images.buffer);
    detach(labels.buffer);
  },
  'moved to a new owner that writes into them': (images, labels) => {
    new Float32Array(detach(images.buffer)).fill(Number.NaN);
    new Int32Array(detach(labels.buffer)).fill(-7);
  },
  'detached, then the heap churned so the memory is reused': (images, labels) => {
    detach(images.buffer);
    detach(labels.buffer);
    const junk: Float32Array[] = [];
    for (let i = 0; i < 64; i++) junk.push(new Float32Array(imageLength).fill(1e30));
    junk.length = 0;
  },
};

function twins(): { a: Plan; b: Plan; ea: Plan; eb: Plan } {
  const sa = new ParameterStore();
  const sb = new ParameterStore();
  return {
    a: Plan.compileSync(graph, sa, { batch: B, seed: 3 }),
    b: Plan.compileSync(graph, sb, { batch: B, seed: 3 }),
    ea: Plan.compileSync(graph, sa, { batch: B, training: false }),
    eb: Plan.compileSync(graph, sb, { batch: B, training: false }),
  };
}

describe('asynchronous calls own their inputs', () => {
  for (const [name, abuse] of Object.entries(abuses)) {
    it(`trainStep, evaluate and predict: inputs ${name} during the call`, async () => {
      const { a, b, ea, eb } = twins();
      for (let step = 0; step < 4; step++) {
        const x = inputs(step);
        const pristine = { images: x.images.slice(), labels: x.labels.slice() };
        const hyper = { lr: 0.05, dropPathRate: 0.2, step };
        const pending = a.trainStep(x.images, x.labels, hyper);
        abuse(x.images, x.labels);
        const got = await pending;
        expect(got).toEqual(await b.trainStep(pristine.images, pristine.labels, hyper));
        expect(Number.isFinite(got.loss)).toBe(true);
      }
      const x = inputs(9);
      const pristine = { images: x.images.slice(), labels: x.labels.slice() };
      const evaluating = ea.evaluate(x.images, x.labels);
      abuse(x.images, x.labels);
      expect(await evaluating).toEqual(await eb.evaluate(pristine.images, pristine.labels));
      const y = inputs(10);
      const copy = y.images.slice();
      const predicting = ea.predict(y.images);
      abuse(y.images, y.labels);
      const logits = await predicting;
      expect(Array.from(logits)).toEqual(Array.from(await eb.predict(copy)));
      expect(logits.every(Number.isFinite)).toBe(true);
      for (const p of [a, b, ea, eb]) p.dispose();
    });
  }

  it('a detached or moved buffer is refused when the call starts', async () => {
    const store = new ParameterStore();
    const plan = Plan.compileSync(graph, store, { batch: B });
    const x = inputs(1);
    detach(x.images.buffer);
    await expect(plan.trainStep(x.images, x.labels, { lr: 0.1 })).rejects.toThrow(`Expected images of length ${imageLength}`);
    const y = inputs(2);
    detach(y.labels.buffer);
    await expect(plan.evaluate(y.images, y.labels)).rejects.toThrow(`Expected labels of length ${B} but received 0`);
    // The plan was not left busy by the refused calls.
    const z = inputs(3);
    expect(Number.isFinite((await plan.trainStep(z.images, z.labels, { lr: 0.1 })).loss)).toBe(true);
    plan.dispose();
  });

  it('compile: the graph and the store may change while it compiles', async () => {
    const graphCopy = structuredClone(graph);
    const store = new ParameterStore();
    const reference = new ParameterStore();
    const compiling = Plan.compile(graphCopy, store, { batch: B, seed: 4 });
    // Mutate everything the call was given: the graph object, its nodes and params.
    graphCopy.nodes.length = 0;
    graphCopy.params.length = 0;
    (graphCopy as { version: number }).version = 99;
    const plan = await compiling;
    const twin = Plan.compileSync(graph, reference, { batch: B, seed: 4 });
    expect(plan.description.params).toEqual(twin.description.params);
    // A store.set racing the compilation waits for it and then wins (the store's lock).
    const w = new Float32Array(store.get('net/fc/W')!.data.length).fill(0.25);
    const again = Plan.compile(graph, store, { batch: 2, seed: 4 });
    store.set('net/fc/W', w);
    detach(w.buffer);
    const small = await again;
    expect(Array.from(store.get('net/fc/W')!.data)).toEqual(new Array(16 * 4).fill(0.25));
    const x = inputs(5);
    const pristine = x.images.slice();
    const pending = plan.trainStep(x.images, x.labels, { lr: 0.1 });
    abuses['moved to a new owner that writes into them']!(x.images, x.labels);
    reference.set('net/fc/W', new Float32Array(16 * 4).fill(0.25));
    expect(await pending).toEqual(await twin.trainStep(pristine, inputs(5).labels, { lr: 0.1 }));
    for (const p of [plan, twin, small]) p.dispose();
  });
});
