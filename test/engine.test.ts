import { describe, expect, it } from 'vitest';
import { Plan } from '../lib/engine/plan.js';
import { ParameterStore } from '../lib/engine/store.js';
import { ValidationError } from '../lib/errors.js';
import { randomFloats, tinyClassifier } from './helpers/tiny-graph.js';

const B = 8;
const graph = tinyClassifier();
const images = randomFloats(B * 3 * 8 * 8, 7);
const labels = Int32Array.from({ length: B }, (_, i) => i % 4);

describe('engine plans through the binding', () => {
  it('compiles, reports shapes and memory, and creates parameters in the store', () => {
    const store = new ParameterStore();
    const plan = Plan.compileSync(graph, store, { batch: B, seed: 3 });
    expect(plan.inputShape).toEqual([B, 3, 8, 8]);
    expect(plan.classes).toBe(4);
    expect(plan.description.activationBytes).toBeGreaterThan(0);
    expect(plan.description.activationBytes).toBeLessThanOrEqual(plan.description.naiveActivationBytes);
    expect(store.names()).toContain('net/stem/W');
    expect(store.get('net/stem/W')!.shape).toEqual([8, 3, 3, 3]);
    expect(Array.from(store.get('net/stem/bn/var')!.data)).toEqual(new Array(8).fill(1));
    plan.dispose();
  });

  it('overfits a fixed batch (loss falls) and runs steps off the JS thread', async () => {
    const store = new ParameterStore();
    const plan = Plan.compileSync(graph, store, { batch: B, seed: 1 });
    const first = await plan.trainStep(images, labels, { lr: 0.1, momentum: 0.9 });
    let last = first;
    for (let i = 1; i < 150; i++) last = await plan.trainStep(images, labels, { lr: 0.1, momentum: 0.9, step: i });
    expect(Number.isFinite(first.loss)).toBe(true);
    expect(first.gradNorm).toBeGreaterThan(0);
    expect(last.loss).toBeLessThan(0.2 * first.loss);
    expect(last.correct).toBe(B);
    plan.dispose();
  });

  it('is deterministic for a seed', async () => {
    const run = async () => {
      const store = new ParameterStore();
      const plan = Plan.compileSync(graph, store, { batch: B, seed: 5 });
      const losses: number[] = [];
      for (let i = 0; i < 5; i++) losses.push((await plan.trainStep(images, labels, { lr: 0.05, dropPathRate: 0.3, step: i })).loss);
      plan.dispose();
      return losses;
    };
    expect(await run()).toEqual(await run());
  });

  it('shares parameters by name between plans (train and eval of different batch sizes)', async () => {
    const store = new ParameterStore();
    const trainPlan = Plan.compileSync(graph, store, { batch: B, seed: 1 });
    const evalPlan = Plan.compileSync(graph, store, { batch: 2, training: false });
    const before = await evalPlan.predict(images.subarray(0, 2 * 3 * 64));
    await trainPlan.trainStep(images, labels, { lr: 0.5 });
    const after = await evalPlan.predict(images.subarray(0, 2 * 3 * 64));
    expect(Array.from(after)).not.toEqual(Array.from(before));
    // set/get round-trips exactly, and a plan sees what was set
    const w = store.get('net/fc/W')!;
    const zeros = new Float32Array(w.data.length);
    store.set('net/fc/W', zeros);
    store.set('net/fc/B', new Float32Array([1, 2, 3, 4]));
    expect(Array.from(store.get('net/fc/B')!.data)).toEqual([1, 2, 3, 4]);
    const logits = await evalPlan.predict(images.subarray(0, 2 * 3 * 64));
    expect(Array.from(logits)).toEqual([1, 2, 3, 4, 1, 2, 3, 4]);
    trainPlan.dispose();
    evalPlan.dispose();
  });

  it('evaluates with inference semantics: no parameter changes, same result twice', async () => {
    const store = new ParameterStore();
    const plan = Plan.compileSync(graph, store, { batch: B, seed: 2 });
    await plan.trainStep(images, labels, { lr: 0.1 });
    const mean = Array.from(store.get('net/stem/bn/mean')!.data);
    const a = await plan.evaluate(images, labels);
    const b = await plan.evaluate(images, labels);
    expect(a).toEqual(b);
    expect(Array.from(store.get('net/stem/bn/mean')!.data)).toEqual(mean);
    expect(mean.some((v) => v !== 0)).toBe(true); // running statistics were updated by the train step
    plan.dispose();
  });

  it('rejects wrong calls with errors naming the field', async () => {
    const store = new ParameterStore();
    const plan = Plan.compileSync(graph, store, { batch: B });
    await expect(plan.trainStep(new Float32Array(5), labels, { lr: 0.1 })).rejects.toThrow(/Expected images of length 1536 \(8×3×8×8\) but received 5/);
    await expect(plan.trainStep(images, new Int32Array(B).fill(9), { lr: 0.1 })).rejects.toThrow(/labels\[0\] = 9 is outside \[0, 4\)/);
    await expect(plan.trainStep(images, labels, { lr: -1 })).rejects.toThrow('Expected finite number >= 0 for lr but received -1 of type number');
    expect(() => Plan.compileSync(graph, store, { batch: 0 })).toThrow(/Expected positive integer for batch but received 0/);
    const busy = plan.trainStep(images, labels, { lr: 0.1 });
    const second = plan.trainStep(images, labels, { lr: 0.1 });
    await expect(second).rejects.toThrow(/plan is busy/);
    await expect(second).rejects.toBeInstanceOf(ValidationError);
    expect(() => plan.dispose()).toThrow(ValidationError);
    expect(() => plan.dispose()).toThrow(/plan is busy: await the running step before dispose/);
    await busy;
    plan.dispose();
    await expect(plan.predict(images)).rejects.toThrow(ValidationError);
    await expect(plan.predict(images)).rejects.toThrow(/plan was disposed/);
  });

  it('rejects an invalid graph naming the node and field', () => {
    const store = new ParameterStore();
    const bad = structuredClone(graph);
    const sepDw = bad.nodes[5];
    if (sepDw.op !== 'Conv') throw new Error(`node 5 is a ${sepDw.op}, not the Conv this test changes`);
    sepDw.attrs = { ...sepDw.attrs, group: 3 };
    expect(() => Plan.compileSync(bad, store, { batch: 2 })).toThrow(ValidationError);
    expect(() => Plan.compileSync(bad, store, { batch: 2 })).toThrow(/sep_dw/);
    const unknown = structuredClone(graph);
    (unknown.nodes[2] as { op: string }).op = 'Softplus';
    expect(() => Plan.compileSync(unknown, store, { batch: 2 })).toThrow(/stem_relu.*Softplus|Softplus.*stem_relu/);
  });

  it('refuses a shape that disagrees with the store', () => {
    const store = new ParameterStore();
    Plan.compileSync(graph, store, { batch: 2 }).dispose();
    const wider = tinyClassifier({ width: 16 });
    expect(() => Plan.compileSync(wider, store, { batch: 2 })).toThrow(/net\/stem\/W/);
  });
});
