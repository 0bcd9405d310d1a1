/**
 * Shape inference for the graph IR, from the IR alone (attributes and parameter shapes): the shape
 * of every graph input and node output for a given batch size. Inconsistent graphs throw a
 * `ValidationError` naming the node, e.g. `IR node 'cell3/block1/add': Add inputs differ in shape`.
 *
 * Conventions (ONNX): conv/pool output = floor((in + pad_begin + pad_end - dilation*(k-1) - 1) / stride) + 1;
 * `Slice` clamps ends to the axis length; losses are scalars (shape []).
 */
import { ValidationError } from '../errors.js';
import type { ConvAttrs, IrGraph, IrNode } from './types.js';

/** Shape of every tensor of a graph: inputs by name, nodes by id. */
export type ShapeMap = Map<string, number[]>;

const fmt = (s: readonly number[]): string => `[${s.join(', ')}]`;

function fail(node: IrNode, msg: string): never {
  throw new ValidationError(`IR node '${node.id}': ${node.op} ${msg}`);
}

function pair(node: IrNode, name: string, v: unknown, dflt: [number, number]): [number, number] {
  if (v === undefined) return dflt;
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => Number.isInteger(x) && x >= 1)) {
    fail(node, `attribute ${name} must be 2 positive integers but is ${JSON.stringify(v)}`);
  }
  return [v[0], v[1]];
}

function pads4(node: IrNode, v: unknown): [number, number, number, number] {
  if (v === undefined) return [0, 0, 0, 0];
  if (!Array.isArray(v) || v.length !== 4 || !v.every((x) => Number.isInteger(x) && x >= 0)) {
    fail(node, `attribute pads must be 4 non-negative integers [top, left, bottom, right] but is ${JSON.stringify(v)}`);
  }
  return [v[0], v[1], v[2], v[3]];
}

/** The sliding-window attributes of Conv, MaxPool and AveragePool (the pools have no dilations). */
type Window = Partial<Pick<ConvAttrs, 'kernel_shape' | 'strides' | 'pads' | 'dilations'>>;

function spatial(node: IrNode, x: number[], attrs: Window | undefined): [number, number] {
  const [kh, kw] = pair(node, 'kernel_shape', attrs?.kernel_shape, [0, 0]);
  if (kh === 0) fail(node, 'needs attribute kernel_shape');
  const [sh, sw] = pair(node, 'strides', attrs?.strides, [1, 1]);
  const [dh, dw] = pair(node, 'dilations', attrs?.dilations, [1, 1]);
  const [t, l, b, r] = pads4(node, attrs?.pads);
  const oh = Math.floor((x[2]! + t + b - dh * (kh - 1) - 1) / sh) + 1;
  const ow = Math.floor((x[3]! + l + r - dw * (kw - 1) - 1) / sw) + 1;
  if (oh < 1 || ow < 1) fail(node, `with kernel ${kh}x${kw} on input ${fmt(x)} gives an empty output`);
  return [oh, ow];
}

function rank4(node: IrNode, x: number[]): void {
  if (x.length !== 4) fail(node, `expects an NCHW input but got shape ${fmt(x)}`);
}

/**
 * Infers the shape of every tensor of `graph`.
 * @param graph an IR graph (nodes in topological order)
 * @param batch the batch size substituted for `'N'` (default 1)
 * @returns shapes of the graph inputs and of every node output
 * @throws ValidationError naming the node at fault
 * @example inferShapes(buildNetwork(NASNET_A).inference, 1).get('head/fc') // [1, 10]
 */
export function inferShapes(graph: IrGraph, batch = 1): ShapeMap {
  const shapes: ShapeMap = new Map();
  const params = new Map(graph.params.map((p) => [p.name, p.shape]));
  for (const i of graph.inputs) shapes.set(i.name, i.shape.map((d) => (d === 'N' ? batch : d)));
  for (const node of graph.nodes) {
    if (shapes.has(node.id)) fail(node, 'reuses an id already defined');
    const ins = node.inputs.map((id, j) => {
      const s = shapes.get(id);
      if (!s) fail(node, `input ${j} '${id}' is not a graph input or an earlier node`);
      return s;
    });
    const ps = (node.params ?? []).map((name, j) => {
      const s = params.get(name);
      if (!s) fail(node, `param ${j} '${name}' is not declared in graph.params`);
      return s;
    });
    if (node.attrs !== undefined && (node.attrs === null || typeof node.attrs !== 'object' || Array.isArray(node.attrs))) {
      fail(node, `attrs must be an object but is ${JSON.stringify(node.attrs)}`);
    }
    const x = ins[0]!;
    const need = (n: number): void => {
      if (ins.length !== n) fail(node, `expects ${n} input(s) but has ${ins.length}`);
    };
    let out: number[];
    switch (node.op) {
      case 'Conv': {
        need(1);
        rank4(node, x);
        const w = ps[0];
        if (w?.length !== 4) fail(node, 'needs a 4-D weight parameter');
        const group = node.attrs?.group ?? 1;
        if (!Number.isInteger(group) || group < 1) fail(node, `attribute group must be a positive integer but is ${JSON.stringify(group)}`);
        if (x[1] !== w[1]! * group) {
          fail(node, `weight ${fmt(w)} with group ${group} expects ${w[1]! * group} input channels but input is ${fmt(x)}`);
        }
        if (w[0]! % group !== 0) fail(node, `group ${group} does not divide output channels ${w[0]}`);
        const [kh, kw] = pair(node, 'kernel_shape', node.attrs?.kernel_shape, [w[2]!, w[3]!]);
        if (kh !== w[2] || kw !== w[3]) fail(node, `kernel_shape ${kh}x${kw} differs from weight ${fmt(w)}`);
        if (ps[1] && (ps[1].length !== 1 || ps[1][0] !== w[0])) fail(node, `bias ${fmt(ps[1])} does not match ${w[0]} outputs`);
        const [oh, ow] = spatial(node, x, { ...node.attrs, kernel_shape: [kh, kw] });
        out = [x[0]!, w[0]!, oh, ow];
        break;
      }
      case 'BatchNormalization': {
        need(1);
        if (ps.length !== 4) fail(node, `needs 4 params [scale, B, mean, var] but has ${ps.length}`);
        for (const p of ps) if (p.length !== 1 || p[0] !== x[1]) fail(node, `param shape ${fmt(p)} does not match ${x[1]} channels`);
        out = [...x];
        break;
      }
      case 'Relu':
      case 'Identity':
      case 'Dropout':
      case 'DropPath':
        need(1);
        out = [...x];
        break;
      case 'MaxPool':
      case 'AveragePool': {
        need(1);
        rank4(node, x);
        const [oh, ow] = spatial(node, x, node.attrs);
        out = [x[0]!, x[1]!, oh, ow];
        break;
      }
      case 'GlobalAveragePool':
        need(1);
        rank4(node, x);
        out = [x[0]!, x[1]!, 1, 1];
        break;
      case 'Flatten':
        need(1);
        out = [x[0]!, x.slice(1).reduce((a, b) => a * b, 1)];
        break;
      case 'Gemm': {
        need(1);
        const w = ps[0];
        if (x.length !== 2) fail(node, `expects a 2-D input but got ${fmt(x)}`);
        if (w?.length !== 2 || w[1] !== x[1]) fail(node, `weight ${w ? fmt(w) : 'missing'} does not match input ${fmt(x)} (transB = 1)`);
        if (ps[1] && (ps[1].length !== 1 || ps[1][0] !== w[0])) fail(node, `bias ${fmt(ps[1])} does not match ${w[0]} outputs`);
        out = [x[0]!, w[0]!];
        break;
      }
      case 'Add': {
        if (ins.length < 2) fail(node, `expects at least 2 inputs but has ${ins.length}`);
        for (const s of ins) {
          if (fmt(s) !== fmt(x)) fail(node, `inputs differ in shape (${node.inputs.map((id, j) => `${id} ${fmt(ins[j]!)}`).join(', ')})`);
        }
        out = [...x];
        break;
      }
      case 'Concat': {
        if (ins.length < 1) fail(node, 'expects at least 1 input');
        if (node.attrs?.axis !== 1) fail(node, `only supports axis 1 but axis is ${JSON.stringify(node.attrs?.axis)}`);
        let c = 0;
        for (const s of ins) {
          rank4(node, s);
          if (s[0] !== x[0] || s[2] !== x[2] || s[3] !== x[3]) {
            fail(node, `inputs differ in N, H or W (${node.inputs.map((id, j) => `${id} ${fmt(ins[j]!)}`).join(', ')})`);
          }
          c += s[1]!;
        }
        out = [x[0]!, c, x[2]!, x[3]!];
        break;
      }
      case 'Pad': {
        need(1);
        const p = node.attrs?.pads;
        if (!Array.isArray(p) || p.length !== 2 * x.length) fail(node, `attribute pads must have ${2 * x.length} entries`);
        out = x.map((d, j) => d + p[j]! + p[j + x.length]!);
        break;
      }
      case 'Slice': {
        need(1);
        const { starts, ends, axes } = node.attrs ?? {};
        const steps = node.attrs?.steps ?? starts?.map(() => 1);
        if (!starts || !ends || !axes || !steps || starts.length !== ends.length || axes.length !== starts.length || steps.length !== starts.length) {
          fail(node, 'needs attributes starts, ends and axes (and steps, if given) of equal length');
        }
        out = [...x];
        axes.forEach((a, j) => {
          const dim = x[a]!;
          const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
          const st = steps[j]!;
          if (st < 1) fail(node, 'only supports positive steps');
          const len = Math.max(0, Math.ceil((clamp(ends[j]!) - clamp(starts[j]!)) / st));
          out[a] = len;
        });
        break;
      }
      case 'SoftmaxCrossEntropy': {
        need(2);
        const y = ins[1]!;
        if (x.length !== 2 || y.length !== 1 || y[0] !== x[0]) {
          fail(node, `expects logits [N, K] and labels [N] but got ${fmt(x)} and ${fmt(y)}`);
        }
        out = [];
        break;
      }
      case 'WeightedSum': {
        const w = node.attrs?.weights;
        if (!Array.isArray(w) || w.length !== ins.length) fail(node, `needs one weight per input (${ins.length})`);
        for (const s of ins) if (s.length !== 0) fail(node, `expects scalar inputs but got ${fmt(s)}`);
        out = [];
        break;
      }
      default:
        fail(node, 'is not an op of the IR');
    }
    shapes.set(node.id, out);
  }
  return shapes;
}
