import { describe, expect, it } from 'vitest';
import { countGenotype, countGraph } from '../lib/cells/counts.js';
import { NASNET_A } from '../lib/cells/genotypes.js';
import { buildPreset, presetOptions } from '../lib/cells/presets.js';

/** Rounds to the published precision: `digits` decimals in `unit`s. */
const published = (x: number, unit: number, digits: number): number => Number((x / unit).toFixed(digits));

// Zoph et al. 2018, Table 1 (CIFAR-10) and Table 2 (ImageNet), and the TF-slim / Keras releases.
// Params: trainable parameters the logits depend on (auxiliary head excluded). Mult-adds: Conv and
// Gemm for one image. The paper's 88.9M for the large model also counts the BN moving statistics
// (our `paramsWithStats`, which equals Keras's `NASNetLarge().count_params()` = 88,949,818).
describe('counts against the paper', () => {
  it('NASNet-A 6@768 on CIFAR-10: 3.3M params', () => {
    const c = countGenotype(NASNET_A, presetOptions('nasnet-a-cifar'));
    expect(published(c.params, 1e6, 1)).toBe(3.3);
  });

  it('NASNet-A 4@1056 at 224 (mobile): 5.3M params, 564M mult-adds', () => {
    const c = countGenotype(NASNET_A, presetOptions('nasnet-a-mobile'));
    expect(published(c.params, 1e6, 1)).toBe(5.3);
    expect(published(c.multAdds, 1e6, 0)).toBe(564);
    // Keras NASNetMobile (ported from the slim checkpoints): 5,289,978 trainable, 5,326,716 in all.
    expect(c.params).toBe(5_289_978);
    expect(c.paramsWithStats).toBe(5_326_716);
  });

  it('NASNet-A 6@4032 at 331 (large): 88.9M params, 23.8B mult-adds', () => {
    const c = countGenotype(NASNET_A, presetOptions('nasnet-a-large'));
    expect(published(c.paramsWithStats, 1e6, 1)).toBe(88.9);
    expect(published(c.multAdds, 1e9, 1)).toBe(23.8);
    // Keras NASNetLarge: 88,753,150 trainable, 88,949,818 in all.
    expect(c.params).toBe(88_753_150);
    expect(c.paramsWithStats).toBe(88_949_818);
  });
});

describe('countGraph', () => {
  it('excludes the auxiliary head (not an ancestor of the logits) and the loss', () => {
    const n = buildPreset('nasnet-a-cifar', { cellsPerStack: 1, filters: 8 });
    const train = countGraph(n.graph);
    expect(train).toEqual(countGraph(n.inference));
    const aux = countGraph(n.graph, n.meta.auxLogits!);
    expect(aux.params).toBeGreaterThan(0);
    // Counting from the aux logits includes the aux head: 128 * C + 128 + 128 (BN) + 768 * 128 * k * k + 2 * 768 + 768 * 10 + 10 more.
    const auxOnly = n.graph.params.filter((p) => p.name.startsWith('aux/')).filter((p) => p.trainable);
    const auxSize = auxOnly.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
    expect(aux.params).toBeGreaterThan(auxSize);
  });

  it('counts a depthwise conv as k*k*C*H*W and a Gemm as in*out', () => {
    const n = buildPreset('nasnet-a-cifar', { cellsPerStack: 1, filters: 8, auxHead: false });
    const g = n.inference;
    const one = { ...g, nodes: g.nodes.slice(0, 1), outputs: [g.nodes[0]!.id] };
    // Stem conv: 24 outputs, 3 inputs, 3x3, 32x32 pixels.
    expect(countGraph(one).multAdds).toBe(24 * 3 * 9 * 32 * 32);
    // A depthwise 5x5 on the 8-channel base output of cell0: 8 * 25 * 32 * 32.
    const sep = 'cell0/block0/left/sep_conv_5x5';
    expect(countGraph(g, `${sep}/dw1`).multAdds - countGraph(g, `${sep}/relu1`).multAdds).toBe(8 * 25 * 32 * 32);
    // Pointwise 8 -> 8 at 32x32.
    expect(countGraph(g, `${sep}/pw1`).multAdds - countGraph(g, `${sep}/dw1`).multAdds).toBe(8 * 8 * 32 * 32);
    // The classifier: 192 features (24 F) x 10 classes.
    expect(countGraph(g).multAdds - countGraph(g, 'head/flatten').multAdds).toBe(192 * 10);
    expect(countGraph(g).params - countGraph(g, 'head/flatten').params).toBe(192 * 10 + 10);
  });
});
