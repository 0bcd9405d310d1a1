import { describe, expect, it } from 'vitest';
import { NASNET_A } from '../lib/cells/genotypes.js';
import { buildNetwork } from '../lib/cells/network.js';
import { cachedMemory, releaseCachedMemory, setCachedMemoryLimit } from '../lib/engine/memory.js';
import { Plan } from '../lib/engine/plan.js';
import { ParameterStore } from '../lib/engine/store.js';
import { ValidationError } from '../lib/errors.js';
import { randomFloats } from './helpers/tiny-graph.js';

// The CPU backend keeps the large blocks of disposed plans (their activation arenas) for the next
// plans: their pages are mapped already, so a new plan's first step pays no page faults for them.
// NASNet-A 1@8 on 16×16 at batch 16: a training arena of several MiB.
const net = buildNetwork(NASNET_A, { cellsPerStack: 1, filters: 8, numClasses: 10, inputSize: 16 });
const batch = 16;
const images = randomFloats(batch * 3 * 16 * 16, 41);
const labels = Int32Array.from({ length: batch }, (_, i) => (i * 3) % 10);

/** Two training steps and a prediction on a new store (the same initial weights every time). */
async function run(): Promise<{ losses: number[]; logits: Float32Array }> {
  const store = new ParameterStore();
  const train = await Plan.compile(net.graph, store, { batch, seed: 1 });
  const infer = await Plan.compile(net.inference, store, { batch, training: false });
  const losses: number[] = [];
  for (let step = 0; step < 2; step++) losses.push((await train.trainStep(images, labels, { lr: 0.05, step })).loss);
  const logits = await infer.predict(images);
  train.dispose();
  infer.dispose();
  return { losses, logits };
}

describe('cached host memory (CPU backend)', () => {
  it('a disposed plan’s arena serves the next plan, with the same results; release and the limit free it', async () => {
    const limit = cachedMemory().limit;
    try {
      releaseCachedMemory();
      expect(cachedMemory()).toMatchObject({ bytes: 0, blocks: 0 });
      expect(limit).toBeGreaterThan(0);
      const first = await run();
      const kept = cachedMemory();
      expect(kept.blocks).toBeGreaterThan(0); // the arenas of the disposed plans
      expect(kept.bytes).toBeGreaterThanOrEqual(2 ** 20);
      const second = await run();
      const after = cachedMemory();
      expect(after.reused - kept.reused).toBeGreaterThanOrEqual(kept.blocks); // every kept block served again
      expect(second.losses).toEqual(first.losses);
      expect(Buffer.from(second.logits.buffer).equals(Buffer.from(first.logits.buffer))).toBe(true);
      releaseCachedMemory();
      expect(cachedMemory()).toMatchObject({ bytes: 0, blocks: 0 });
      setCachedMemoryLimit(0); // keep nothing
      await run();
      expect(cachedMemory()).toMatchObject({ bytes: 0, blocks: 0, limit: 0 });
    } finally {
      setCachedMemoryLimit(limit);
    }
  });

  it('refuses a limit that is not a non-negative integer', () => {
    expect(() => setCachedMemoryLimit(-1)).toThrow(ValidationError);
    expect(() => setCachedMemoryLimit(-1)).toThrow('setCachedMemoryLimit: expected non-negative integer for bytes but received -1');
    expect(() => setCachedMemoryLimit(1.5)).toThrow('received 1.5');
    expect(() => setCachedMemoryLimit('1' as unknown as number)).toThrow('received "1" of type string');
  });
});
