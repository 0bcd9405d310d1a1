import { describe, expect, it } from 'vitest';
import { DEFAULT_BN, samePad1d } from '../lib/cells/emit.js';
import { OPS } from '../lib/cells/ops.js';
import { PRIMITIVES } from '../lib/cells/space.js';
import { inferShapes } from '../lib/ir/shapes.js';
import type { IrGraph, IrNode } from '../lib/ir/types.js';
import { validateGraph } from '../lib/ir/validate.js';

const H = 9;
const W = 8;
const BATCH = 2;

function opGraph(op: (typeof PRIMITIVES)[number], cin: number, cout: number, stride: 1 | 2) {
  const r = OPS[op].build({
    prefix: `c/block0/left/${op}`,
    inputId: 'x',
    channelsIn: cin,
    height: H,
    width: W,
    channelsOut: cout,
    stride,
    bn: DEFAULT_BN,
  });
  const graph: IrGraph = {
    version: 1,
    inputs: [{ name: 'x', dtype: 'float32', shape: ['N', cin, H, W] }],
    outputs: [r.output],
    nodes: r.nodes,
    params: r.params,
  };
  return { r, graph };
}

describe('OPS registry', () => {
  it('has exactly one entry per primitive', () => {
    expect(Object.keys(OPS).sort()).toEqual([...PRIMITIVES].sort());
  });

  for (const op of PRIMITIVES) {
    for (const stride of [1, 2] as const) {
      for (const [cin, cout] of [
        [8, 8],
        [6, 8],
      ] as const) {
        it(`${op} stride ${stride}, ${cin} -> ${cout} channels: IR shapes are consistent`, () => {
          const { r, graph } = opGraph(op, cin, cout, stride);
          const expected = [BATCH, cout, Math.ceil(H / stride), Math.ceil(W / stride)];
          expect([BATCH, r.channels, r.height, r.width]).toEqual(expected);
          if (r.nodes.length === 0) {
            // Only a true identity emits nothing.
            expect(op).toBe('identity');
            expect(stride === 1 && cin === cout).toBe(true);
            expect(r.output).toBe('x');
            return;
          }
          const shapes = validateGraph(graph, BATCH);
          expect(shapes.get(r.output)).toEqual(expected);
          for (const n of r.nodes) expect(n.id.startsWith(`c/block0/left/${op}/`)).toBe(true);
          for (const p of r.params) expect(p.name.startsWith(`c/block0/left/${op}/`)).toBe(true);
        });
      }
    }
  }

  it('only identity escapes DropPath', () => {
    for (const op of PRIMITIVES) expect(OPS[op].droppable, op).toBe(op !== 'identity');
  });

  it('separable convs: ReLU, depthwise (stride on the first only), pointwise, BN, twice', () => {
    const { r } = opGraph('sep_conv_5x5', 6, 8, 2);
    expect(r.nodes.map((n) => n.op)).toEqual([
      'Relu', 'Conv', 'Conv', 'BatchNormalization', 'Relu', 'Conv', 'Conv', 'BatchNormalization',
    ]);
    const byId = new Map(r.nodes.map((n) => [n.id.split('/').pop(), n]));
    expect(byId.get('dw1')!.attrs).toMatchObject({ kernel_shape: [5, 5], strides: [2, 2], group: 6 });
    expect(byId.get('pw1')!.attrs).toMatchObject({ kernel_shape: [1, 1], strides: [1, 1] });
    expect(byId.get('dw2')!.attrs).toMatchObject({ kernel_shape: [5, 5], strides: [1, 1], group: 8 });
    const w = new Map(r.params.map((p) => [p.name.split('/').slice(-2).join('/'), p]));
    expect(w.get('dw1/W')!.shape).toEqual([6, 1, 5, 5]);
    expect(w.get('pw1/W')!.shape).toEqual([8, 6, 1, 1]);
    expect(w.get('dw2/W')!.shape).toEqual([8, 1, 5, 5]);
    expect(w.get('dw1/W')!.init).toEqual({ kind: 'he_normal', fanIn: 25 });
    expect(w.get('pw1/W')!.init).toEqual({ kind: 'he_normal', fanIn: 6 });
  });

  it('pooling: SAME window with the stride, 1x1 conv + BN (no ReLU) only when channels change', () => {
    const same = opGraph('avg_pool_3x3', 8, 8, 2).r;
    expect(same.nodes.map((n) => n.op)).toEqual(['AveragePool']);
    expect(same.nodes[0]!.attrs).toMatchObject({ kernel_shape: [3, 3], strides: [2, 2], pads: [1, 0, 1, 1], count_include_pad: 0 });
    const change = opGraph('max_pool_7x7', 6, 8, 1).r;
    expect(change.nodes.map((n) => n.op)).toEqual(['MaxPool', 'Conv', 'BatchNormalization']);
    expect(change.nodes[0]!.attrs).toMatchObject({ pads: [3, 3, 3, 3] });
  });

  it('identity: a strided or channel-changing identity becomes ReLU -> 1x1 conv -> BN', () => {
    expect(opGraph('identity', 8, 8, 2).r.nodes.map((n: IrNode) => n.op)).toEqual(['Relu', 'Conv', 'BatchNormalization']);
    expect(opGraph('identity', 6, 8, 1).r.nodes[1]!.attrs).toMatchObject({ kernel_shape: [1, 1], strides: [1, 1] });
  });

  it('conv_1x7_7x1 strides width then height; dil_conv_3x3 has dilation 2 and SAME pads 2', () => {
    const f = opGraph('conv_1x7_7x1', 8, 8, 2).r.nodes;
    expect(f.map((n) => n.op)).toEqual(['Relu', 'Conv', 'Conv', 'BatchNormalization']);
    expect(f[1]!.attrs).toMatchObject({ kernel_shape: [1, 7], strides: [1, 2] });
    expect(f[2]!.attrs).toMatchObject({ kernel_shape: [7, 1], strides: [2, 1] });
    const d = opGraph('dil_conv_3x3', 8, 8, 1).r.nodes;
    expect(d[1]!.attrs).toMatchObject({ kernel_shape: [3, 3], dilations: [2, 2], pads: [2, 2, 2, 2] });
  });

  it('BN running statistics are not trainable and not decayed', () => {
    const { r } = opGraph('conv_3x3', 8, 8, 1);
    const bn = r.params.filter((p) => p.name.includes('/bn/'));
    expect(bn.map((p) => [p.name.split('/').pop(), p.init.kind, p.trainable, p.weightDecay])).toEqual([
      ['scale', 'ones', true, false],
      ['bias', 'zeros', true, false],
      ['mean', 'zeros', false, false],
      ['var', 'ones', false, false],
    ]);
  });
});

describe('samePad1d (TF SAME)', () => {
  it('puts the extra pixel after, and output = ceil(in / stride)', () => {
    expect(samePad1d(56, 3, 2)).toEqual([0, 1, 28]);
    expect(samePad1d(111, 3, 2)).toEqual([1, 1, 56]);
    expect(samePad1d(8, 5, 1)).toEqual([2, 2, 8]);
    expect(samePad1d(7, 3, 1, 2)).toEqual([2, 2, 7]);
  });
});

describe('inferShapes errors name the node', () => {
  it('reports a conv whose weight does not match its input', () => {
    const { graph } = opGraph('conv_3x3', 8, 8, 1);
    graph.inputs[0]!.shape = ['N', 5, H, W];
    expect(() => inferShapes(graph)).toThrow(
      "IR node 'c/block0/left/conv_3x3/conv': Conv weight [8, 8, 3, 3] with group 1 expects 8 input channels but input is [1, 5, 9, 8]",
    );
  });

  it('reports unknown inputs and params', () => {
    const { graph } = opGraph('conv_1x1', 8, 8, 1);
    graph.nodes[0]!.inputs = ['nope'];
    expect(() => inferShapes(graph)).toThrow("IR node 'c/block0/left/conv_1x1/relu': Relu input 0 'nope' is not a graph input or an earlier node");
    const g2 = opGraph('conv_1x1', 8, 8, 1).graph;
    g2.params = g2.params.slice(1);
    expect(() => inferShapes(g2)).toThrow("param 0 'c/block0/left/conv_1x1/conv/W' is not declared in graph.params");
  });

  it('reports mismatched Add inputs', () => {
    const graph: IrGraph = {
      version: 1,
      inputs: [
        { name: 'a', dtype: 'float32', shape: ['N', 4, 8, 8] },
        { name: 'b', dtype: 'float32', shape: ['N', 4, 4, 4] },
      ],
      outputs: ['s'],
      nodes: [{ id: 's', op: 'Add', inputs: ['a', 'b'] }],
      params: [],
    };
    expect(() => inferShapes(graph)).toThrow("IR node 's': Add inputs differ in shape (a [1, 4, 8, 8], b [1, 4, 4, 4])");
  });
});
