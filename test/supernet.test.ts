/**
 * Weight sharing: the 'shared' cell wiring gives every parameter a shape that depends only on its
 * name; children bind one store; scoring is a batch-statistics forward that changes nothing; plans
 * are cached with bounded count and memory.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NASNET_A } from '../lib/cells/genotypes.js';
import { buildNetwork, type NetworkOptions } from '../lib/cells/network.js';
import { Plan } from '../lib/engine/plan.js';
import { ParameterStore } from '../lib/engine/store.js';
import { PlanCache } from '../lib/search/plan-cache.js';
import { frozenGraph, SharedSupernet } from '../lib/search/supernet.js';
import { fixedGenotypes } from './helpers/genotypes.js';

const PROXY: NetworkOptions = { cellsPerStack: 1, filters: 4, stemMultiplier: 2, numClasses: 10, inputSize: 12, inputChannels: 1, auxHead: false };

function shapesOf(genotypes: ReturnType<typeof fixedGenotypes>, o: NetworkOptions) {
  const shapes = new Map<string, string>();
  const conflicts: string[] = [];
  for (const g of genotypes) {
    for (const p of buildNetwork(g, o).graph.params) {
      const s = p.shape.join('x');
      const had = shapes.get(p.name);
      if (had !== undefined && had !== s) conflicts.push(`${p.name}: ${had} vs ${s}`);
      shapes.set(p.name, s);
    }
  }
  return { shapes, conflicts };
}

function seededImages(n: number, seed: number): Float32Array {
  let x = seed;
  return Float32Array.from({ length: n }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x / 2 ** 31 - 1;
  });
}

describe('cell wiring', () => {
  it('shared: every parameter name has one shape over 300 genotypes (N = 2, both stems); standalone does not', () => {
    const gs = fixedGenotypes(300, 1);
    for (const o of [{ ...PROXY, cellsPerStack: 2 }, { ...PROXY, stem: 'imagenet' as const, filters: 8, inputSize: 64 }]) {
      const shared = shapesOf(gs, { ...o, wiring: 'shared' });
      expect(shared.conflicts).toEqual([]);
      expect(shared.shapes.size).toBeGreaterThan(1000);
      // The same genotypes in TF-slim's wiring: shapes follow the concatenated states.
      expect(shapesOf(gs, o).conflicts.length).toBeGreaterThan(100);
    }
  });

  it('shared: names are per (cell, block, input slot, op), states and cell outputs are F channels', () => {
    const { graph, meta } = buildNetwork(NASNET_A, { ...PROXY, wiring: 'shared' });
    const names = graph.params.map((p) => p.name);
    expect(names).toContain('cell0/block0/left/sep_conv_5x5/dw1/W');
    expect(names).toContain('cell0/prev/conv/W'); // the stem (8 channels) projected to F = 4 in the first cell
    expect(names).toContain('cell0/out/proj1/W');
    for (const c of meta.cells) expect(c.output[0]).toBe(c.filters);
    // A concat block is projected back to F.
    const concatCell = { blocks: [{ inputs: [0, 1], ops: ['sep_conv_3x3', 'max_pool_3x3'], combine: 'concat' }] } as const;
    const g = buildNetwork({ normal: concatCell, reduction: concatCell }, { ...PROXY, wiring: 'shared' }).graph;
    expect(g.params.find((p) => p.name === 'cell0/block0/proj/conv/W')!.shape).toEqual([4, 8, 1, 1]);
  });

  it('standalone: the parameter names and shapes are those every checkpoint was written with', () => {
    const h = createHash('sha256');
    for (const g of [NASNET_A, ...fixedGenotypes(12, 7)]) {
      for (const o of [{ cellsPerStack: 2, filters: 8 }, { stem: 'imagenet' as const, cellsPerStack: 1, filters: 8, inputSize: 96 }]) {
        const net = buildNetwork(g, o);
        for (const graph of [net.graph, net.inference]) for (const p of graph.params) h.update(`${p.name}:${p.shape.join('x')};`);
      }
    }
    // Computed on main before the wiring seam existed.
    expect(h.digest('hex')).toBe('7a49c5c039ff0077b88199131ffb9f4024fc56ef7761a6f7773fec417a9aa2f6');
  });

  it('rejects an unknown wiring', () => {
    expect(() => buildNetwork(NASNET_A, { wiring: 'enas' as never })).toThrow(`Expected 'standalone' or 'shared' for wiring but received "enas" of type string`);
  });
});

describe('SharedSupernet', () => {
  it('children that place the same op at the same position train the same tensors; the others stay untouched', async () => {
    const [a, b] = fixedGenotypes(2, 3);
    const net = new SharedSupernet({ network: PROXY, batchSize: 8, scoreBatch: 8, seed: 1 });
    const pa = new Set(net.build(a!).graph.params.map((p) => p.name));
    const pb = new Set(net.build(b!).graph.params.map((p) => p.name));
    await net.trainStep(b!, seededImages(8 * 144, 1), new Int32Array(8).map((_, i) => i), { lr: 0 }); // creates b's tensors
    const before = new Map([...pb].map((n) => [n, net.store.get(n)!.data.slice()]));
    await net.trainStep(a!, seededImages(8 * 144, 2), new Int32Array(8).map((_, i) => (i * 3) % 10), { lr: 0.1, momentum: 0.9 });
    const both = [...pb].filter((n) => pa.has(n) && !n.endsWith('/mean') && !n.endsWith('/var'));
    const onlyB = [...pb].filter((n) => !pa.has(n));
    expect(both.length).toBeGreaterThan(10);
    expect(onlyB.length).toBeGreaterThan(10);
    const changed = (n: string) => net.store.get(n)!.data.some((v, i) => v !== before.get(n)![i]);
    expect(both.filter(changed).length).toBeGreaterThan(both.length / 2);
    expect(onlyB.filter(changed)).toEqual([]);
    net.dispose();
  });

  it('score is the forward of a training step (batch statistics) and changes nothing in the store', async () => {
    const [g] = fixedGenotypes(1, 5);
    const net = new SharedSupernet({ network: PROXY, batchSize: 16, scoreBatch: 16, seed: 2 });
    const images = seededImages(16 * 144, 9);
    const labels = new Int32Array(16).map((_, i) => i % 10);
    await net.trainStep(g!, seededImages(16 * 144, 4), labels, { lr: 0.05, momentum: 0.9 }); // non-trivial BN statistics and momentum
    const snapshot = new Map(net.store.names().map((n) => [n, net.store.get(n)!.data.slice()]));
    const s = await net.score(g!, images, labels);
    for (const [n, v] of snapshot) expect(net.store.get(n)!.data, n).toEqual(v);
    // The training step's forward on the same batch, before its update, is what score computed.
    const t = await net.trainStep(g!, images, labels, { lr: 0.05, momentum: 0.9 });
    expect(s.loss).toBeCloseTo(t.loss, 5);
    expect(s.correct).toBe(t.correct);
    expect(s.accuracy).toBe(t.correct / 16);
    net.dispose();
  });

  it('frozenGraph: every parameter frozen, BN momentum 1, the rest as it was', async () => {
    const { graph } = buildNetwork(NASNET_A, { ...PROXY, wiring: 'shared' });
    const f = frozenGraph(graph);
    expect(f.params.every((p) => !p.trainable)).toBe(true);
    expect(f.nodes.filter((n) => n.op === 'BatchNormalization').every((n) => n.attrs!.momentum === 1)).toBe(true);
    expect(f.nodes.map((n) => n.id)).toEqual(graph.nodes.map((n) => n.id));
    const store = new ParameterStore();
    const plan = await Plan.compile(f, store, { batch: 2 });
    expect(store.names().some((n) => n.endsWith('#momentum'))).toBe(false); // no optimizer state for frozen parameters
    plan.dispose();
  });

  it('caches one training and one scoring plan per distinct child and reports compile time and hits', async () => {
    const gs = fixedGenotypes(3, 8);
    const net = new SharedSupernet({ network: PROXY, batchSize: 4, scoreBatch: 4, cache: { maxPlans: 4 } });
    const images = seededImages(4 * 144, 1);
    const labels = new Int32Array(4);
    for (const g of [gs[0], gs[1], gs[0], gs[0], gs[1]]) await net.trainStep(g!, images, labels, { lr: 0.01 });
    let s = net.stats();
    expect([s.hits, s.misses, s.entries, s.evictions]).toEqual([3, 2, 2, 0]);
    expect(s.compileMs).toBeGreaterThan(0);
    expect(s.hitRate).toBeCloseTo(0.6);
    for (const g of gs) await net.score(g!, images, labels);
    s = net.stats();
    expect([s.misses, s.entries, s.evictions]).toEqual([5, 4, 1]);
    net.dispose();
    expect(net.stats().entries).toBe(0);
  });
});

describe('PlanCache', () => {
  const item = (log: string[], name: string) => ({ dispose: () => log.push(name) });

  it('evicts the least recently used entry beyond maxPlans, disposing of it', () => {
    const log: string[] = [];
    const c = new PlanCache<{ dispose(): void }>({ maxPlans: 2 });
    c.get('a', () => ({ value: item(log, 'a'), bytes: 1 }));
    c.get('b', () => ({ value: item(log, 'b'), bytes: 1 }));
    c.get('a', () => ({ value: item(log, 'a2'), bytes: 1 })); // a is now the most recent
    c.get('c', () => ({ value: item(log, 'c'), bytes: 1 }));
    expect(log).toEqual(['b']);
    expect(c.stats()).toMatchObject({ hits: 1, misses: 3, evictions: 1, entries: 2, bytes: 2 });
    c.clear();
    expect(log.sort()).toEqual(['a', 'b', 'c']);
  });

  it('stays within maxBytes, but keeps the newest entry even when it alone is larger', () => {
    const log: string[] = [];
    const c = new PlanCache<{ dispose(): void }>({ maxPlans: 10, maxBytes: 100 });
    c.get('a', () => ({ value: item(log, 'a'), bytes: 60 }));
    c.get('b', () => ({ value: item(log, 'b'), bytes: 30 }));
    c.get('c', () => ({ value: item(log, 'c'), bytes: 30 }));
    expect(log).toEqual(['a']);
    c.get('d', () => ({ value: item(log, 'd'), bytes: 500 }));
    expect(log).toEqual(['a', 'b', 'c']);
    expect(c.stats()).toMatchObject({ entries: 1, bytes: 500 });
  });

  it('rejects bad bounds', () => {
    expect(() => new PlanCache({ maxPlans: 0 })).toThrow('Expected positive integer for maxPlans but received 0 of type number');
  });
});
