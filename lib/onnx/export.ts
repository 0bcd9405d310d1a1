import { writeFileSync } from 'node:fs';
import { ValidationError } from '../errors.js';
import type { ConvAttrs, IrGraph, IrNode, PoolAttrs } from '../ir/types.js';
import { checkInteger } from '../util/check.js';
import { ProtoWriter } from './protobuf.js';

/** Where exported weights come from: a ParameterStore, or any name → tensor lookup. */
export interface TensorSource {
  get(name: string): { data: Float32Array; shape: number[] } | undefined;
}

/** Options of {@link exportOnnx}. */
export interface OnnxExportOptions {
  /** ONNX opset; default 13. */
  opset?: number;
  /** Name of the model's graph; default 'nasnet'. */
  graphName?: string;
  /** Written into the model's doc_string (e.g. the genotype JSON). */
  docString?: string;
  /**
   * Export the parameter averages (`<name>#ema`, kept when training with an EMA decay) in place of
   * the parameters, under the parameters' names; default false.
   */
  useEma?: boolean;
}

// ONNX enum values (onnx.proto).
const FLOAT = 1;
const INT64 = 7;
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_INTS = 7;
const IR_VERSION_ONNX = 7; // the ONNX IR version that goes with opset 13

/** Opsets the exporter writes: Pad takes its pads as an input from opset 11 on (older opsets reject our Pad nodes). */
export const ONNX_OPSET_MIN = 11;
/** The newest opset ONNX Runtime loads (1.30, the version tested here: 27 and above are refused at load). */
export const ONNX_OPSET_MAX = 26;

/**
 * Checks an ONNX opset against what the exporter writes and ONNX Runtime loads.
 * @param value - the opset
 * @param field - named in the message (e.g. '--opset')
 * @throws ValidationError e.g. `Expected integer in [11, 26] for --opset but received 9 of type number`
 */
export function checkOpset(value: unknown, field = 'opset'): number {
  return checkInteger(value, field, { min: ONNX_OPSET_MIN, max: ONNX_OPSET_MAX });
}

type Attr = { name: string; ints?: number[]; int?: number; float?: number; string?: string };

function attribute(a: Attr): ProtoWriter {
  const w = new ProtoWriter().string(1, a.name);
  if (a.ints) w.packedInts(8, a.ints).int(20, ATTR_INTS);
  else if (a.int !== undefined) w.int(3, a.int).int(20, ATTR_INT);
  else if (a.float !== undefined) w.float(2, a.float).int(20, ATTR_FLOAT);
  else if (a.string !== undefined) w.bytes(4, new TextEncoder().encode(a.string)).int(20, ATTR_STRING);
  return w;
}

function floatTensor(name: string, shape: number[], data: Float32Array): ProtoWriter {
  const w = new ProtoWriter().packedInts(1, shape).int(2, FLOAT).string(8, name);
  return w.bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

function int64Tensor(name: string, values: number[]): ProtoWriter {
  const raw = new Uint8Array(values.length * 8);
  const dv = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) dv.setBigInt64(i * 8, BigInt(values[i]), true);
  return new ProtoWriter().packedInts(1, [values.length]).int(2, INT64).string(8, name).bytes(9, raw);
}

function valueInfo(name: string, dims: (number | string)[] | undefined): ProtoWriter {
  const tensorType = new ProtoWriter().int(1, FLOAT);
  if (dims) {
    const shape = new ProtoWriter();
    for (const d of dims) shape.message(1, typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
    tensorType.message(2, shape);
  }
  return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensorType));
}

/** The sliding-window attributes Conv and the pools share, with ONNX's defaults written out. */
function windowAttrs(a: ConvAttrs | PoolAttrs): Attr[] {
  return [
    { name: 'kernel_shape', ints: a.kernel_shape },
    { name: 'strides', ints: a.strides ?? [1, 1] },
    { name: 'pads', ints: a.pads ?? [0, 0, 0, 0] },
  ];
}

/** The nodes that `outputs[0]` depends on, in graph order (the inference graph). */
function inferenceNodes(graph: IrGraph): IrNode[] {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const needed = new Set<string>();
  const stack = [graph.outputs[0]];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (needed.has(id)) continue;
    const node = byId.get(id);
    if (!node) continue; // a graph input
    needed.add(id);
    stack.push(...node.inputs);
  }
  return graph.nodes.filter((n) => needed.has(n.id));
}

/**
 * Serializes the inference part of `graph` (what `outputs[0]`, the logits, depends on) as a standard
 * ONNX model, with the weights from `weights`. Training-only ops vanish: DropPath and Dropout become
 * identities; the loss and the auxiliary head are not reachable from the logits and are left out.
 * BatchNormalization uses the running statistics. The input is `images` [batch, C, H, W].
 *
 * @param graph - the network's IR (training or inference graph)
 * @param weights - a ParameterStore (or any lookup) holding every parameter the graph names
 * @param options - opset (default 13), graph name, doc string
 * @returns the ONNX ModelProto bytes
 * @example
 * const bytes = exportOnnx(graph, store);
 * writeFileSync('model.onnx', bytes);
 */
export function exportOnnx(graph: IrGraph, weights: TensorSource, options: OnnxExportOptions = {}): Uint8Array {
  const opset = checkOpset(options.opset ?? 13);
  const g = new ProtoWriter();
  const nodes = inferenceNodes(graph);
  const usedParams = new Set<string>();
  const extra: ProtoWriter[] = [];
  for (const node of nodes) {
    let op: string = node.op;
    let inputs = [...node.inputs, ...(node.params ?? [])];
    const attrs: Attr[] = [];
    switch (node.op) {
      case 'Conv':
        attrs.push(...windowAttrs(node.attrs), { name: 'dilations', ints: node.attrs.dilations ?? [1, 1] }, { name: 'group', int: node.attrs.group ?? 1 });
        break;
      case 'BatchNormalization':
        attrs.push({ name: 'epsilon', float: node.attrs?.epsilon ?? 1e-5 }, { name: 'momentum', float: node.attrs?.momentum ?? 0.9 });
        break;
      case 'MaxPool':
      case 'AveragePool':
        attrs.push(...windowAttrs(node.attrs));
        if (node.op === 'AveragePool') attrs.push({ name: 'count_include_pad', int: node.attrs.count_include_pad ?? 0 });
        break;
      case 'Concat':
      case 'Flatten':
        attrs.push({ name: 'axis', int: 1 });
        break;
      case 'Gemm':
        attrs.push({ name: 'transB', int: 1 });
        break;
      case 'Pad': {
        const padsName = `${node.id}/pads`;
        extra.push(int64Tensor(padsName, node.attrs.pads));
        inputs = [node.inputs[0], padsName];
        attrs.push({ name: 'mode', string: 'constant' });
        break;
      }
      case 'Slice': {
        const s = node.attrs;
        const names = ['starts', 'ends', 'axes', 'steps'].map((k) => `${node.id}/${k}`);
        extra.push(
          int64Tensor(names[0], s.starts),
          int64Tensor(names[1], s.ends),
          int64Tensor(names[2], s.axes),
          int64Tensor(names[3], s.steps ?? s.starts.map(() => 1)),
        );
        inputs = [node.inputs[0], ...names];
        break;
      }
      case 'Dropout':
      case 'DropPath':
        op = 'Identity';
        inputs = [node.inputs[0]];
        break;
      case 'Relu':
      case 'Add':
      case 'GlobalAveragePool':
      case 'Identity':
        break;
      default:
        throw new ValidationError(`exportOnnx: node '${node.id}': op ${node.op} feeds the logits but has no ONNX inference form`);
    }
    for (const p of node.params ?? []) usedParams.add(p);
    const n = new ProtoWriter();
    for (const i of inputs) n.string(1, i);
    n.string(2, node.id).string(3, node.id).string(4, op);
    for (const at of attrs) n.message(5, attribute(at));
    g.message(1, n);
  }
  g.string(2, options.graphName ?? 'nasnet');
  const declared = new Map(graph.params.map((p) => [p.name, p.shape]));
  for (const name of [...usedParams].sort()) {
    const t = weights.get(options.useEma ? `${name}#ema` : name);
    if (!t && options.useEma) {
      throw new ValidationError(`exportOnnx: parameter '${name}' has no average '${name}#ema' in the weights (train with an EMA decay, or export without useEma)`);
    }
    if (!t) throw new ValidationError(`exportOnnx: parameter '${name}' is not in the weights (compile a plan on the store first)`);
    // ONNX Runtime refuses an initializer whose shape the graph's op cannot take: refused here first.
    const want = declared.get(name);
    if (want && t.shape.join('x') !== want.join('x')) {
      throw new ValidationError(`exportOnnx: parameter '${name}' has shape [${t.shape}] in the weights but the graph needs [${want}]`);
    }
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== count) throw new ValidationError(`exportOnnx: parameter '${name}' has ${t.data.length} values for shape [${t.shape}]`);
    g.message(5, floatTensor(name, t.shape, t.data));
  }
  for (const t of extra) g.message(5, t);
  const images = graph.inputs.find((i) => i.dtype === 'float32');
  if (!images) throw new ValidationError('exportOnnx: the graph has no float32 input');
  g.message(11, valueInfo(images.name, images.shape.map((d) => (d === 'N' ? 'batch' : d))));
  g.message(12, valueInfo(graph.outputs[0], undefined));
  const model = new ProtoWriter()
    .int(1, IR_VERSION_ONNX)
    .string(2, 'nasnet')
    .string(3, '0.1.0')
    .message(7, g)
    .message(8, new ProtoWriter().string(1, '').int(2, opset));
  if (options.docString) model.string(6, options.docString);
  return model.finish();
}

/**
 * {@link exportOnnx} to a file.
 *
 * @param path - the .onnx file to write
 */
export function writeOnnx(path: string, graph: IrGraph, weights: TensorSource, options: OnnxExportOptions = {}): void {
  writeFileSync(path, exportOnnx(graph, weights, options));
}
