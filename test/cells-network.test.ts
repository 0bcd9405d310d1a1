import { describe, expect, it } from 'vitest';
import { cellOutputWidth } from '../lib/cells/genotype.js';
import type { Genotype } from '../lib/cells/genotype-types.js';
import { NASNET_A } from '../lib/cells/genotypes.js';
import { buildNetwork, penultimatePerFilter, resolveNetworkOptions } from '../lib/cells/network.js';
import { buildPreset, presetOptions } from '../lib/cells/presets.js';
import { ValidationError } from '../lib/errors.js';
import { inferShapes } from '../lib/ir/shapes.js';
import { TRAINING_ONLY_OPS } from '../lib/ir/types.js';
import { validateGraph } from '../lib/ir/validate.js';

const small = { cellsPerStack: 2, filters: 8, numClasses: 10 } as const;

describe('CIFAR network from NASNET_A', () => {
  const net = buildNetwork(NASNET_A, small);
  const node = (id: string) => net.graph.nodes.find((n) => n.id === id);

  it('validates, with logits first and a scalar loss', () => {
    const shapes = validateGraph(net.graph, 3);
    expect(net.graph.outputs[0]).toBe('head/fc');
    expect(shapes.get('head/fc')).toEqual([3, 10]);
    expect(net.graph.inputs.map((i) => [i.name, i.dtype, i.shape])).toEqual([
      ['images', 'float32', ['N', 3, 32, 32]],
      ['labels', 'int32', ['N']],
    ]);
    expect(net.graph.loss).toBe('loss/total');
    expect(node('loss/total')).toMatchObject({ op: 'WeightedSum', inputs: ['loss/ce', 'loss/aux_ce'], attrs: { weights: [1, 0.4] } });
  });

  it('stacks N normal cells with a reduction cell between stacks, doubling filters', () => {
    expect(net.meta.cells.map((c) => `${c.kind[0]}${c.filters}:${c.output.join('x')}`)).toEqual([
      'n8:48x32x32', 'n8:48x32x32', 'r16:64x16x16', 'n16:96x16x16', 'n16:96x16x16',
      'r32:128x8x8', 'n32:192x8x8', 'n32:192x8x8',
    ]);
    expect(net.meta.name).toBe('2@192');
    expect(net.meta.penultimate).toBe(192);
    expect(node('stem/conv')!.attrs).toMatchObject({ kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] });
    expect(net.graph.params.find((p) => p.name === 'stem/conv/W')!.shape).toEqual([24, 3, 3, 3]);
  });

  it("first cell reads the raw stem as h_{i-1}; later cells match it like slim's _cell_base", () => {
    expect(net.graph.nodes.some((n) => n.id.startsWith('cell0/prev/'))).toBe(false);
    expect(node('cell0/block0/right/sep_conv_3x3/relu1')!.inputs).toEqual(['stem/bn']);
    // cell1: h_{i-1} = stem (24 channels) vs 8 filters: ReLU -> 1x1 conv -> BN.
    expect(node('cell1/prev/conv')!.inputs).toEqual(['cell1/prev/relu']);
    // cell3 follows a reduction: factorized reduction of cell1's output.
    expect(node('cell3/prev/relu')!.inputs).toEqual(['cell1/concat']);
    expect(node('cell3/prev/reduce/path2_pad')!.attrs).toEqual({ pads: [0, 0, 0, 0, 0, 0, 1, 1] });
    expect(node('cell3/prev/reduce/path2_shift')!.attrs).toEqual({ starts: [1, 1], ends: [33, 33], axes: [2, 3] });
    expect(node('cell3/prev/reduce/path1_conv')!.attrs).toMatchObject({ strides: [2, 2], pads: [0, 0, 0, 0] });
    // h_{i-1} of cell0 has 24 != 8 channels and is concatenated: slim reduces it with a 1x1 conv + BN.
    expect(node('cell0/concat')!.inputs[0]).toBe('cell0/out/reduce1/path_bn');
  });

  it('names blocks readably and drops every op but identity', () => {
    expect(node('cell0/block0/left/sep_conv_5x5/dw1')!.op).toBe('Conv');
    expect(net.graph.params.some((p) => p.name === 'cell0/block0/left/sep_conv_5x5/dw1/W')).toBe(true);
    const drops = (cell: string) => net.graph.nodes.filter((n) => n.op === 'DropPath' && n.id.startsWith(`${cell}/`));
    expect(drops('cell1')).toHaveLength(8);
    expect(drops('cell2')).toHaveLength(9);
    expect(drops('cell2')[0]!.attrs).toEqual({ layer_ratio: 3 / 8 });
    expect(net.meta.cells[7]!.layerRatio).toBe(1);
  });

  it('puts the auxiliary head after the last normal cell of the second stack', () => {
    expect(net.meta.auxCell).toBe('cell4');
    expect(node('aux/relu')!.inputs).toEqual(['cell4/concat']);
    const shapes = inferShapes(net.graph, 1);
    expect(shapes.get('aux/pool')).toEqual([1, 96, 4, 4]);
    expect(shapes.get('aux/conv')).toEqual([1, 768, 1, 1]);
    expect(shapes.get('aux/fc')).toEqual([1, 10]);
  });

  it('inference graph: same parameters minus the auxiliary head, no training-only ops, no labels', () => {
    const inf = net.inference;
    validateGraph(inf, 2);
    expect(inf.nodes.some((n) => TRAINING_ONLY_OPS.includes(n.op))).toBe(false);
    expect(inf.nodes.some((n) => n.id.startsWith('aux/'))).toBe(false);
    expect(inf.inputs.map((i) => i.name)).toEqual(['images']);
    expect(inf.loss).toBeUndefined();
    const trainNames = new Set(net.graph.params.map((p) => p.name));
    for (const p of inf.params) expect(trainNames.has(p.name)).toBe(true);
    expect(net.graph.params.length - inf.params.length).toBe(
      net.graph.params.filter((p) => p.name.startsWith('aux/')).length,
    );
  });

  it('transfer: only the head parameters depend on the number of classes', () => {
    const other = buildNetwork(NASNET_A, { ...small, numClasses: 100 });
    const a = new Map(net.graph.params.map((p) => [p.name, p.shape.join('x')]));
    const b = new Map(other.graph.params.map((p) => [p.name, p.shape.join('x')]));
    expect([...a.keys()]).toEqual([...b.keys()]);
    const differ = [...a.keys()].filter((k) => a.get(k) !== b.get(k));
    expect(differ.sort()).toEqual(['aux/fc/B', 'aux/fc/W', 'head/fc/B', 'head/fc/W']);
    expect(net.meta.headParams.sort()).toEqual(differ);
  });

  it('supports any input size and channel count', () => {
    const mnist = buildNetwork(NASNET_A, { ...small, inputSize: 28, inputChannels: 1, auxHead: false });
    const shapes = validateGraph(mnist.graph, 1);
    expect(shapes.get('stem/conv')).toEqual([1, 24, 28, 28]);
    expect(mnist.meta.cells.at(-1)!.output).toEqual([192, 7, 7]);
    expect(mnist.graph.nodes.some((n) => n.id.startsWith('aux/'))).toBe(false);
    expect(mnist.graph.loss).toBe('loss/ce');
  });

  it('omits DropPath nodes when dropPath is false', () => {
    const n = buildNetwork(NASNET_A, { ...small, dropPath: false });
    expect(n.graph.nodes.some((x) => x.op === 'DropPath')).toBe(false);
  });
});

describe('ImageNet networks', () => {
  const net = buildNetwork(NASNET_A, {
    stem: 'imagenet',
    cellsPerStack: 2,
    filters: 8,
    stemMultiplier: 1,
    inputSize: 96,
    numClasses: 5,
    denseDropoutKeep: 0.5,
    labelSmoothing: 0.1,
  });
  const node = (id: string) => net.graph.nodes.find((n) => n.id === id);

  it('has a strided VALID stem conv and two reduction stem cells at F/4 and F/2', () => {
    validateGraph(net.graph, 2);
    expect(node('stem/conv')!.attrs).toMatchObject({ strides: [2, 2], pads: [0, 0, 0, 0] });
    expect(net.graph.params.find((p) => p.name === 'stem/conv/W')!.shape).toEqual([32, 3, 3, 3]);
    expect(net.meta.cells.slice(0, 2).map((c) => [c.kind, c.filters, c.output.join('x')])).toEqual([
      ['stem', 2, '8x24x24'],
      ['stem', 4, '16x12x12'],
    ]);
    // Stem cell 0 has no h_{i-1}: it reads the stem conv output raw (32 channels) as state 1.
    expect(node('cell0/block0/right/sep_conv_7x7/relu1')!.inputs).toEqual(['stem/bn']);
    expect(node('cell1/prev/relu')!.inputs).toEqual(['stem/bn']);
    expect(net.meta.cells).toHaveLength(10);
    expect(net.meta.cells[2]!.layerRatio).toBe(3 / 10);
  });

  it('has dense dropout and label smoothing in training only', () => {
    expect(node('head/dropout')).toMatchObject({ op: 'Dropout', attrs: { ratio: 0.5 } });
    expect(node('loss/ce')!.attrs).toEqual({ label_smoothing: 0.1 });
    expect(net.inference.nodes.some((n) => n.id === 'head/dropout')).toBe(false);
  });

  it('skipReductionLayerInput: the cell after a reduction reads the cell before the reduction input', () => {
    const opts = { stem: 'imagenet', cellsPerStack: 2, filters: 8, inputSize: 96, auxHead: false } as const;
    const plain = buildNetwork(NASNET_A, opts);
    const skip = buildNetwork(NASNET_A, { ...opts, skipReductionLayerInput: true });
    // cells: 0, 1 stem; 2, 3 normal; 4 reduction; 5 normal.
    const prevOf = (g: typeof plain, id: string) => g.graph.nodes.find((n) => n.id === id)!.inputs;
    expect(prevOf(plain, 'cell5/prev/relu')).toEqual(['cell3/concat']);
    expect(prevOf(skip, 'cell5/prev/relu')).toEqual(['cell2/concat']);
    expect(prevOf(skip, 'cell4/prev/conv')).toEqual(['cell4/prev/relu']);
    validateGraph(skip.graph);
  });
});

describe('options', () => {
  it('name the bad option', () => {
    expect(() => buildNetwork(NASNET_A, { cellsPerStack: -3 })).toThrow(
      'Expected positive integer for cellsPerStack but received -3 of type number',
    );
    expect(() => buildNetwork(NASNET_A, { penultimate: 100 })).toThrow(
      'Expected a multiple of 24 (P = 24 F for this genotype (its normal cell outputs 6 × F channels)) for penultimate but received 100 of type number',
    );
    expect(() => buildNetwork(NASNET_A, { filters: 8, penultimate: 768 })).toThrow('filters 8 and penultimate 768 disagree');
    expect(() => buildNetwork(NASNET_A, { denseDropoutKeep: 0 })).toThrow('Expected finite number in (0, 1] for denseDropoutKeep but received 0 of type number');
    expect(() => buildNetwork(NASNET_A, { colour: 1 } as never)).toThrow("Unknown key 'colour' in network options (known: stem, ");
    expect(() => buildNetwork(NASNET_A, { stem: 'mnist' } as never)).toThrow(ValidationError);
  });

  it('default per stem like slim: CIFAR 6@768, ImageNet the mobile 4@1056 at 224', () => {
    expect(resolveNetworkOptions()).toMatchObject({ cellsPerStack: 6, filters: 32, numClasses: 10, denseDropoutKeep: 1, bnEpsilon: 1e-5 });
    expect(resolveNetworkOptions({ stem: 'imagenet' })).toMatchObject({
      cellsPerStack: 4,
      filters: 44,
      stemMultiplier: 1,
      numClasses: 1000,
      inputSize: [224, 224],
      denseDropoutKeep: 0.5,
      labelSmoothing: 0.1,
      bnEpsilon: 1e-3,
      bnMomentum: 0.9997,
    });
    expect(resolveNetworkOptions({ stem: 'imagenet', numClasses: 5 }).numClasses).toBe(5);
  });

  it('penultimate sets F = P / 24', () => {
    expect(resolveNetworkOptions({ penultimate: 1056 }).filters).toBe(44);
  });

  it("penultimate follows a searched cell's real output width, and so does the N@P name", () => {
    // Normal cell: block0 = sep3x3(h_i) + identity(h_{i-1}), block1 = concat(block0, h_i):
    // block1 is the only unread state, a concat block (2F): P = 4 × 2 F = 8 F.
    const searched = {
      normal: { blocks: [
        { inputs: [0, 1], ops: ['sep_conv_3x3', 'identity'], combine: 'add' },
        { inputs: [2, 0], ops: ['identity', 'max_pool_3x3'], combine: 'concat' },
      ] },
      reduction: NASNET_A.reduction,
    } as unknown as Genotype;
    expect(cellOutputWidth(searched.normal)).toBe(2);
    expect(cellOutputWidth(NASNET_A.normal)).toBe(6);
    expect(penultimatePerFilter(searched)).toBe(8);
    const net = buildNetwork(searched, { cellsPerStack: 2, penultimate: 256 });
    expect(net.meta.F).toBe(32);
    expect(net.meta.penultimate).toBe(256);
    expect(net.meta.name).toBe('2@256');
    // Sized by F, the name reports the real width rather than 24 F.
    expect(buildNetwork(searched, { cellsPerStack: 2, filters: 32 }).meta.name).toBe('2@256');
    expect(() => buildNetwork(searched, { penultimate: 100 })).toThrow(
      'Expected a multiple of 8 (P = 8 F for this genotype (its normal cell outputs 2 × F channels)) for penultimate but received 100 of type number',
    );
  });

  it("DropPath layer ratios scale with depth, or are 1 everywhere without depth scaling ('time' mode)", () => {
    const ratios = (o: object) => [
      ...new Set(buildNetwork(NASNET_A, { ...small, ...o }).graph.nodes.filter((x) => x.op === 'DropPath').map((x) => x.attrs!.layer_ratio)),
    ];
    expect(ratios({})).toEqual([1 / 8, 2 / 8, 3 / 8, 4 / 8, 5 / 8, 6 / 8, 7 / 8, 1]);
    expect(ratios({ dropPathDepthScaling: false })).toEqual([1]);
  });

  it('reject an auxiliary head on a too-small map', () => {
    expect(() => buildNetwork(NASNET_A, { ...small, inputSize: 8 })).toThrow(
      "auxiliary head: its 5x5 pooling needs a feature map of at least 5x5 but 'cell4/concat' is 4x4",
    );
    expect(() => buildNetwork(NASNET_A, { ...small, inputSize: 8, auxHead: false })).not.toThrow();
  });

  it('reject an invalid genotype', () => {
    const g = JSON.parse(JSON.stringify(NASNET_A));
    g.normal.blocks[0].ops[0] = 'conv_9x9';
    expect(() => buildNetwork(g)).toThrow("normal block 0: ops[0] = 'conv_9x9' is not an op of the search space");
  });
});

describe('presets', () => {
  it('are overridable option by option', () => {
    expect(presetOptions('nasnet-a-mobile', { numClasses: 10 })).toMatchObject({ numClasses: 10, filters: 44, inputSize: [224, 224] });
    expect(presetOptions('nasnet-a-cifar', { penultimate: 384 })).not.toHaveProperty('filters');
    expect(() => presetOptions('nasnet-b')).toThrow("Unknown preset 'nasnet-b' (known: nasnet-a-cifar, nasnet-a-mobile, nasnet-a-large)");
  });

  it('nasnet-a-cifar is 6@768 with 20 cells', () => {
    const n = buildPreset('nasnet-a-cifar');
    expect(n.meta.name).toBe('6@768');
    expect(n.meta.cells).toHaveLength(20);
    expect(n.meta.auxCell).toBe('cell12');
  });
});
