/**
 * CPU steps handed to the step thread directly (native/napi_step_channel.h): they settle with the
 * results the worker path gives, a step the store's lock holds back (another plan of the store
 * compiling) runs once the lock is free, and a step in flight keeps Node's event loop alive while
 * an idle plan does not.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addonCandidates } from '../lib/binding.js';
import { NASNET_A } from '../lib/cells/genotypes.js';
import { buildNetwork } from '../lib/cells/network.js';
import { Plan } from '../lib/engine/plan.js';
import { ParameterStore } from '../lib/engine/store.js';
import { randomFloats, tinyClassifier } from './helpers/tiny-graph.js';

describe('steps on the CPU step thread', () => {
  it('settle every kind of step, also while another plan of the store compiles', async () => {
    const store = new ParameterStore();
    const graph = tinyClassifier();
    const train = await Plan.compile(graph, store, { batch: 4, seed: 1 });
    const infer = await Plan.compile({ ...graph, outputs: [graph.outputs[0]!], loss: undefined }, store, { batch: 4, training: false });
    const images = randomFloats(4 * 3 * 8 * 8, 2);
    const labels = Int32Array.from([0, 1, 2, 3]);
    const before = await infer.predict(images);
    const evaluated = await train.evaluate(images, labels);
    // A larger network compiling on the same store holds its lock in a libuv worker meanwhile.
    const big = buildNetwork(NASNET_A, { stem: 'cifar', cellsPerStack: 1, penultimate: 192, numClasses: 4, inputSize: 8, auxHead: false, stemMultiplier: 3 });
    for (let round = 0; round < 3; round++) {
      const compiling = Plan.compile(big.inference, store, { batch: 1, training: false });
      const [logits, again] = await Promise.all([infer.predict(images), train.evaluate(images, labels)]);
      expect(logits).toEqual(before);
      expect(again).toEqual(evaluated);
      (await compiling).dispose();
    }
    const losses: number[] = [];
    for (let t = 0; t < 5; t++) {
      const compiling = t % 2 === 0 ? Plan.compile(big.inference, store, { batch: 1, training: false }) : undefined;
      losses.push((await train.trainStep(images, labels, { lr: 0.1, step: t })).loss);
      (await compiling)?.dispose();
    }
    expect(losses[4]).toBeLessThan(losses[0]!);
    expect(await infer.predict(images)).not.toEqual(before); // the training plan's updates are the store's
    train.dispose();
    infer.dispose();
  });

  it('keeps the process alive while a step runs, and lets it exit once the step settled', () => {
    const addon = addonCandidates().find((p) => existsSync(p))!;
    const graph = tinyClassifier();
    const ir = JSON.stringify({ ...graph, outputs: [graph.outputs[0]], loss: undefined });
    // Nothing but the step keeps this script's event loop alive: without a reference held while the
    // step runs, Node exits before the promise settles and nothing is printed; with one held after
    // it settled, the script never exits (the timeout).
    const script = `
      const b = require(process.argv[1]);
      const plan = new b.NativePlan(new b.NativeStore(), process.argv[2], { batch: 1, training: false });
      plan.predict(new Float32Array(3 * 8 * 8).fill(0.5)).then((l) => console.log('settled ' + l.length));`;
    const r = spawnSync(process.execPath, ['-e', script, addon, ir], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.stdout.trim()).toBe('settled 4');
    expect(r.status).toBe(0);
  });
});
