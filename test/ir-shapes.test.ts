/**
 * Shapes are inferred twice: in TypeScript (lib/ir/shapes.ts, for validation, counts and drawings)
 * and natively (native/plan/shapes.cc, which the plan runs on). This test holds them equal, node by
 * node: every OPS entry alone at several input shapes, channel counts and both strides, and every
 * OPS entry inside both cells of networks with either stem.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_BN } from '../lib/cells/emit.js';
import type { Genotype } from '../lib/cells/genotype-types.js';
import { NASNET_A } from '../lib/cells/genotypes.js';
import { buildNetwork } from '../lib/cells/network.js';
import { OPS } from '../lib/cells/ops.js';
import { type OpName, PRIMITIVES } from '../lib/cells/space.js';
import { Plan } from '../lib/engine/plan.js';
import { ParameterStore } from '../lib/engine/store.js';
import { ValidationError } from '../lib/errors.js';
import { inferShapes, type ShapeMap } from '../lib/ir/shapes.js';
import type { IrGraph } from '../lib/ir/types.js';

/** The tensors whose TypeScript and native shapes differ (or that only one side has). */
function disagreements(ts: ShapeMap, native: ShapeMap): string[] {
  const out: string[] = [];
  for (const id of new Set([...ts.keys(), ...native.keys()])) {
    const a = ts.get(id);
    const b = native.get(id);
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${id}: TypeScript ${JSON.stringify(a)}, native ${JSON.stringify(b)}`);
  }
  return out;
}

/** Compiles `graph` and compares every tensor's shape; returns how many tensors were compared. */
function compare(graph: IrGraph, batch: number, training: boolean): number {
  const ts = inferShapes(graph, batch);
  const plan = Plan.compileSync(graph, new ParameterStore(), { batch, training });
  try {
    const native = plan.tensorShapes();
    expect(disagreements(ts, native)).toEqual([]);
    expect(native.size).toBe(graph.inputs.length + graph.nodes.length);
    return native.size;
  } finally {
    plan.dispose();
  }
}

/** One op on an input `x` [N, cin, h, w], flattened into logits (a plan's outputs[0] is [N, K]). */
function opGraph(op: OpName, cin: number, cout: number, h: number, w: number, stride: 1 | 2): IrGraph {
  const r = OPS[op].build({ prefix: `c/b0/left/${op}`, inputId: 'x', channelsIn: cin, height: h, width: w, channelsOut: cout, stride, bn: DEFAULT_BN });
  return {
    version: 1,
    inputs: [{ name: 'x', dtype: 'float32', shape: ['N', cin, h, w] }],
    outputs: ['flat'],
    nodes: [...r.nodes, { id: 'flat', op: 'Flatten', inputs: [r.output], attrs: { axis: 1 } }],
    params: r.params,
  };
}

/** Cells whose every op is `op`: on the cell inputs (strided in a reduction cell) and on a block's output. */
function onlyOp(op: OpName): Genotype {
  const cell = {
    blocks: [
      { inputs: [0, 1], ops: [op, op], combine: 'add' },
      { inputs: [2, 0], ops: [op, op], combine: 'add' },
    ],
    concat: [2, 3],
  } as const;
  return { normal: cell, reduction: cell } as unknown as Genotype;
}

// [channels in, channels out, height, width]: equal and changed channels, odd and even sizes, 1×1.
const OP_SHAPES = [
  [8, 8, 9, 8],
  [6, 8, 7, 7],
  [3, 16, 5, 11],
  [4, 4, 1, 1],
] as const;

describe('TypeScript and native shape inference agree, node by node', () => {
  for (const op of PRIMITIVES) {
    it(`${op}: alone, at ${OP_SHAPES.length} input shapes and strides 1 and 2`, () => {
      let tensors = 0;
      for (const [cin, cout, h, w] of OP_SHAPES) {
        for (const stride of [1, 2] as const) tensors += compare(opGraph(op, cin, cout, h, w, stride), 3, false);
      }
      expect(tensors).toBeGreaterThanOrEqual(OP_SHAPES.length * 2 * 2); // at least the input and the head
    });

    it(`${op}: in normal and reduction cells of CIFAR- and ImageNet-stem networks (training graphs)`, () => {
      for (const [stem, inputSize] of [
        ['cifar', 16],
        ['cifar', 13],
        ['imagenet', 40],
        ['imagenet', 45],
      ] as const) {
        const net = buildNetwork(onlyOp(op), { stem, cellsPerStack: 1, filters: 8, inputSize, numClasses: 5, auxHead: stem === 'cifar' });
        const kinds = new Set(net.meta.cells.map((c) => c.kind));
        expect(kinds.has('normal') && kinds.has('reduction')).toBe(true);
        compare(net.graph, 2, true);
      }
    });
  }

  it('NASNet-A, both stems, training and inference graphs', () => {
    for (const stem of ['cifar', 'imagenet'] as const) {
      const net = buildNetwork(NASNET_A, { stem, cellsPerStack: 2, filters: 8, inputSize: stem === 'cifar' ? 32 : 96, numClasses: 10 });
      expect(compare(net.graph, 2, true)).toBe(net.graph.inputs.length + net.graph.nodes.length);
      compare(net.inference, 1, false);
    }
  });
});

describe('inferShapes names the node and attribute at fault', () => {
  const base = opGraph('sep_conv_3x3', 8, 8, 9, 8, 1);
  const dw = base.nodes.findIndex((n) => n.id.endsWith('/dw1'));

  it('for a group that does not match the weight, a non-object attrs and a group that is not a positive integer', () => {
    const bad = structuredClone(base);
    const node = bad.nodes[dw]!;
    if (node.op !== 'Conv') throw new Error(`${node.id} is a ${node.op}, not the depthwise Conv`);
    node.attrs = { ...node.attrs, group: 3 };
    expect(() => inferShapes(bad, 1)).toThrow(
      new ValidationError(`IR node '${node.id}': Conv weight [8, 1, 3, 3] with group 3 expects 3 input channels but input is [1, 8, 9, 8]`),
    );
    node.attrs = 7 as never;
    expect(() => inferShapes(bad, 1)).toThrow(`IR node '${node.id}': Conv attrs must be an object but is 7`);
    node.attrs = { kernel_shape: [3, 3], group: 0 };
    expect(() => inferShapes(bad, 1)).toThrow(`IR node '${node.id}': Conv attribute group must be a positive integer but is 0`);
  });

  it('for a Slice whose steps do not match its axes', () => {
    const g = opGraph('identity', 8, 8, 6, 6, 1);
    g.nodes.unshift({ id: 'cut', op: 'Slice', inputs: ['x'], attrs: { starts: [1, 1], ends: [5, 5], axes: [2, 3], steps: [1] } });
    expect(() => inferShapes(g, 1)).toThrow("IR node 'cut': Slice needs attributes starts, ends and axes (and steps, if given) of equal length");
  });
});
