import { describe, expect, it } from 'vitest';
import { binding } from '../lib/binding.js';
import { NASNET_A } from '../lib/cells/genotypes.js';
import { buildNetwork } from '../lib/cells/network.js';
import { Plan } from '../lib/engine/plan.js';
import { ParameterStore } from '../lib/engine/store.js';
import { ValidationError } from '../lib/errors.js';
import { randomFloats } from './helpers/tiny-graph.js';

// Image-parallel inference: an inference plan on the CPU with 2+ threads splits its batch into runs
// of a few images, each run on one thread through the whole network on its own plan. NASNet-A 1@8 on
// 16×16 with the auxiliary head (its loss is part of the graph's loss): every kind of node inference runs.
const net = buildNetwork(NASNET_A, { cellsPerStack: 1, filters: 8, numClasses: 10, inputSize: 16, auxHead: true });
const threads = binding().info().cpu.threads;
const imageFloats = 3 * 16 * 16;

/** The run sizes of a batch over `lanes` lanes: 4 images while plenty are left, then down to 1 (guided). */
function guidedRuns(batch: number, lanes: number): number[] {
  const runs: number[] = [];
  for (let first = 0; first < batch; ) {
    const images = Math.min(4, Math.max(1, Math.ceil((batch - first) / (2 * lanes))));
    runs.push(images);
    first += images;
  }
  return runs;
}

/** A store whose BN running statistics and weights are not the initial ones (two training steps). */
async function trainedStore(): Promise<ParameterStore> {
  const store = new ParameterStore();
  const train = await Plan.compile(net.graph, store, { batch: 4, seed: 3 });
  const labels = Int32Array.from([1, 7, 3, 9]);
  for (let step = 0; step < 2; step++) await train.trainStep(randomFloats(4 * imageFloats, 20 + step), labels, { lr: 0.1, step });
  train.dispose();
  return store;
}

describe.skipIf(threads < 2)(`image-parallel inference (${threads} threads)`, () => {
  it('predicts the same floats as the batched plan, for batches that leave a smaller last run', async () => {
    const store = await trainedStore();
    for (const batch of [1, 2, 3, 7, 9, 13, 32]) {
      const laned = await Plan.compile(net.inference, store, { batch, training: false });
      const plain = await Plan.compile(net.inference, store, { batch, training: false, imageParallel: false });
      const lanes = Math.min(threads, batch);
      const runs = guidedRuns(batch, lanes);
      expect(laned.description.imageLanes).toBe(lanes);
      expect(laned.description.laneBatch).toBe(runs[0]);
      expect(laned.description.laneRuns).toBe(runs.length);
      expect(plain.description.imageLanes).toBe(0);
      expect(plain.description.laneBatch).toBe(0);
      expect(plain.description.laneRuns).toBe(0);
      // a single image runs its independent nodes (a cell's branches) on two threads at once
      expect(laned.description.nodeWorkers).toBe(batch === 1 ? 2 : 0);
      expect(plain.description.nodeWorkers).toBe(0);
      // each lane's plans share one arena, as large as its largest run's: less than the whole batch's
      // when that run is a smaller share of the batch than the lanes' count
      if (lanes * runs[0] < batch) expect(laned.description.activationBytes).toBeLessThan(plain.description.activationBytes);
      const images = randomFloats(batch * imageFloats, 100 + batch);
      const a = await laned.predict(images);
      const b = await plain.predict(images);
      expect(a.length).toBe(batch * 10);
      expect(Array.from(a)).toEqual(Array.from(b));
      // each image's logits do not depend on the others in its run
      const one = await Plan.compile(net.inference, store, { batch: 1, training: false });
      const last = await one.predict(images.subarray((batch - 1) * imageFloats));
      expect(Array.from(a.subarray((batch - 1) * 10))).toEqual(Array.from(last));
      laned.dispose();
      plain.dispose();
      one.dispose();
    }
  });

  it('evaluates (graph loss with the auxiliary head, correct count) as the batched plan, staged or not', async () => {
    const store = await trainedStore();
    const batch = 11;
    const laned = await Plan.compile(net.graph, store, { batch, training: false });
    const plain = await Plan.compile(net.graph, store, { batch, training: false, imageParallel: false });
    expect(laned.description.imageLanes).toBe(Math.min(threads, batch));
    const images = randomFloats(batch * imageFloats, 7);
    const labels = Int32Array.from({ length: batch }, (_, i) => (i * 7) % 10);
    const a = await laned.evaluate(images, labels);
    const b = await plain.evaluate(images, labels);
    expect(a.correct).toBe(b.correct);
    expect(a.loss).toBeGreaterThan(0);
    expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-5 * b.loss);
    const staged = laned.stage(images, labels);
    const c = await laned.evaluate(staged);
    expect(c).toEqual(a);
    const logits = await laned.predict(laned.stage(images));
    expect(Array.from(logits)).toEqual(Array.from(await plain.predict(images)));
    laned.dispose();
    plain.dispose();
  });

  it('evaluates and profiles a single image with its nodes on two threads as the one-thread plan does', async () => {
    const store = await trainedStore();
    const images = randomFloats(imageFloats, 77);
    for (const label of [0, 3, 9]) {
      const laned = await Plan.compile(net.graph, store, { batch: 1, training: false, profile: true });
      const plain = await Plan.compile(net.graph, store, { batch: 1, training: false, profile: true, imageParallel: false });
      expect(laned.description.nodeWorkers).toBe(2);
      const labels = Int32Array.from([label]);
      // several calls: every order the two threads take the nodes in gives the same floats
      for (let k = 0; k < 3; k++) expect(await laned.evaluate(images, labels)).toEqual(await plain.evaluate(images, labels));
      expect(Array.from(await laned.predict(images))).toEqual(Array.from(await plain.predict(images)));
      const p = laned.profile();
      expect(p.map((n) => n.id).sort()).toEqual(plain.profile().map((n) => n.id).sort());
      for (const node of p) expect(node.forwardCalls).toBe(plain.profile().find((q) => q.id === node.id)!.forwardCalls);
      laned.dispose();
      plain.dispose();
    }
  });

  it('reads the parameters as they are at each call, and their averages with useEma', async () => {
    const store = await trainedStore();
    const batch = 6;
    const laned = await Plan.compile(net.inference, store, { batch, training: false });
    const plain = await Plan.compile(net.inference, store, { batch, training: false, imageParallel: false });
    const images = randomFloats(batch * imageFloats, 9);
    const before = await laned.predict(images);
    // a training step on the same store changes the weights both plans read
    const train = await Plan.compile(net.graph, store, { batch: 4, seed: 3 });
    await train.trainStep(randomFloats(4 * imageFloats, 30), Int32Array.from([0, 1, 2, 3]), { lr: 0.5, step: 5 });
    train.dispose();
    const after = await laned.predict(images);
    expect(Array.from(after)).not.toEqual(Array.from(before));
    expect(Array.from(after)).toEqual(Array.from(await plain.predict(images)));
    laned.dispose();
    plain.dispose();
  });

  it('profiles every node once per run of a lane; training plans have no lanes', async () => {
    const store = await trainedStore();
    const batch = 10;
    const laned = await Plan.compile(net.inference, store, { batch, training: false, profile: true });
    const plain = await Plan.compile(net.inference, store, { batch, training: false, profile: true, imageParallel: false });
    const images = randomFloats(batch * imageFloats, 5);
    await laned.predict(images);
    await plain.predict(images);
    const runs = guidedRuns(batch, laned.description.imageLanes).length;
    expect(laned.description.laneRuns).toBe(runs);
    const p = laned.profile();
    expect(p.map((n) => n.id)).toEqual(plain.profile().map((n) => n.id));
    for (const node of p) {
      expect(node.forwardCalls).toBe(runs);
      expect(node.forwardMs).toBeGreaterThanOrEqual(0);
    }
    laned.resetProfile();
    expect(laned.profile()).toEqual([]);
    laned.dispose();
    plain.dispose();
    const training = await Plan.compile(net.graph, store, { batch: 8, seed: 3 });
    expect(training.description.imageLanes).toBe(0);
    training.dispose();
  });

  it('names bad input: labels outside the classes, images of the wrong size, a non-boolean option', async () => {
    const store = await trainedStore();
    const laned = await Plan.compile(net.graph, store, { batch: 5, training: false });
    const images = randomFloats(5 * imageFloats, 8);
    await expect(laned.evaluate(images, Int32Array.from([0, 1, 2, 3, 10]))).rejects.toThrow(/labels\[4\] = 10 is outside \[0, 10\)/);
    await expect(laned.predict(images.subarray(imageFloats))).rejects.toThrow(/images/);
    await expect(Plan.compile(net.inference, store, { batch: 5, training: false, imageParallel: 'yes' as unknown as boolean })).rejects.toThrow(
      ValidationError,
    );
    // still usable after the failures
    expect((await laned.predict(images)).length).toBe(50);
    laned.dispose();
  });
});
