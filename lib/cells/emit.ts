/**
 * Low-level IR emission: the few layer patterns every op, cell and head is made of (conv, BN, ReLU,
 * pooling, factorized reduction), with TF-style SAME padding computed from known spatial sizes.
 *
 * Names: a node's id is its scope path (`cell3/block1/left/sep_conv_5x5/dw1`); its parameters add a
 * suffix (`/W`, `/B` for Conv and Gemm; `/scale`, `/bias`, `/mean`, `/var` for BN) so that node
 * outputs and parameters never share a name (ONNX puts both in one namespace).
 */
import { ValidationError } from '../errors.js';
import type { ConvAttrs, IrNode, IrParam, PoolAttrs } from '../ir/types.js';

/** A tensor being built: its id and its per-sample shape [channels, height, width]. */
export interface TensorRef {
  readonly id: string;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

/** Batch-norm settings shared by every BN of a network. */
export interface BnConfig {
  /** Added to the variance (slim: 1e-5 CIFAR, 1e-3 ImageNet). */
  readonly epsilon: number;
  /** ONNX momentum: running = running * momentum + batch * (1 - momentum) (slim `decay`). */
  readonly momentum: number;
}

/** Default BN settings (slim's CIFAR arg scope). */
export const DEFAULT_BN: BnConfig = { epsilon: 1e-5, momentum: 0.9 };

/** Collects nodes and parameters in topological order. */
export class IrEmitter {
  readonly nodes: IrNode[] = [];
  readonly params: IrParam[] = [];
  private readonly ids = new Set<string>();

  /**
   * Appends a node; ids must be unique.
   * @param node the node (its inputs must already exist)
   */
  node(node: IrNode): string {
    if (this.ids.has(node.id)) throw new ValidationError(`IR node '${node.id}': duplicate node id`);
    this.ids.add(node.id);
    this.nodes.push(node);
    return node.id;
  }

  /**
   * Declares a parameter.
   * @param param the parameter (names must be unique)
   */
  param(param: IrParam): string {
    this.params.push(param);
    return param.name;
  }

  /**
   * Moves everything emitted by `other` into this emitter.
   * @param other an emitter whose content is appended
   */
  absorb(other: { nodes: readonly IrNode[]; params: readonly IrParam[] }): void {
    for (const n of other.nodes) this.node(n);
    for (const p of other.params) this.param(p);
  }
}

/**
 * TF SAME padding for one axis: output = ceil(in / stride), the extra row goes after.
 * @param size input length
 * @param kernel kernel length
 * @param stride stride
 * @param dilation dilation (effective kernel = dilation * (kernel - 1) + 1)
 * @returns [before, after, output length]
 * @example samePad1d(56, 3, 2, 1) // [0, 1, 28]
 */
export function samePad1d(size: number, kernel: number, stride: number, dilation = 1): [number, number, number] {
  const eff = dilation * (kernel - 1) + 1;
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + eff - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before, out];
}

/** Options of {@link conv}. */
export interface ConvOptions {
  readonly out: number;
  readonly kernel: readonly [number, number];
  readonly stride?: readonly [number, number];
  readonly dilation?: readonly [number, number];
  /** `channels` of the input for depthwise convs. Default 1. */
  readonly group?: number;
  /** 'same' (TF SAME, default) or 'valid'. */
  readonly padding?: 'same' | 'valid';
}

/**
 * Emits a bias-free `Conv` with a He-normal weight `${id}/W` [out, in/group, kh, kw].
 * @param e emitter
 * @param id node id (scope path)
 * @param x input tensor
 * @param o kernel, stride, dilation, group, padding
 * @returns the output tensor
 * @example conv(e, 'stem/conv', images, { out: 96, kernel: [3, 3] })
 */
export function conv(e: IrEmitter, id: string, x: TensorRef, o: ConvOptions): TensorRef {
  const [sh, sw] = o.stride ?? [1, 1];
  const [dh, dw] = o.dilation ?? [1, 1];
  const [kh, kw] = o.kernel;
  const group = o.group ?? 1;
  if (x.channels % group !== 0 || o.out % group !== 0) {
    throw new ValidationError(`IR node '${id}': Conv group ${group} does not divide channels ${x.channels} -> ${o.out}`);
  }
  let pads: [number, number, number, number];
  let oh: number;
  let ow: number;
  if ((o.padding ?? 'same') === 'same') {
    const [t, b, h] = samePad1d(x.height, kh, sh, dh);
    const [l, r, w] = samePad1d(x.width, kw, sw, dw);
    pads = [t, l, b, r];
    oh = h;
    ow = w;
  } else {
    pads = [0, 0, 0, 0];
    oh = Math.floor((x.height - (dh * (kh - 1) + 1)) / sh) + 1;
    ow = Math.floor((x.width - (dw * (kw - 1) + 1)) / sw) + 1;
  }
  if (oh < 1 || ow < 1) {
    throw new ValidationError(`IR node '${id}': Conv ${kh}x${kw} on a ${x.height}x${x.width} input gives an empty output`);
  }
  const cin = x.channels / group;
  const w = e.param({
    name: `${id}/W`,
    shape: [o.out, cin, kh, kw],
    init: { kind: 'he_normal', fanIn: cin * kh * kw },
    trainable: true,
    weightDecay: true,
  });
  const attrs: ConvAttrs = { kernel_shape: [kh, kw], strides: [sh, sw], pads };
  if (dh !== 1 || dw !== 1) attrs.dilations = [dh, dw];
  if (group !== 1) attrs.group = group;
  e.node({ id, op: 'Conv', inputs: [x.id], attrs, params: [w] });
  return { id, channels: o.out, height: oh, width: ow };
}

/**
 * Emits `BatchNormalization` with scale (ones), bias (zeros) and running mean/var (zeros/ones, not trainable).
 * @param e emitter
 * @param id node id
 * @param x input tensor
 * @param bn epsilon and momentum
 * @returns the output tensor (same shape)
 */
export function batchNorm(e: IrEmitter, id: string, x: TensorRef, bn: BnConfig): TensorRef {
  const c = x.channels;
  const names = [
    e.param({ name: `${id}/scale`, shape: [c], init: { kind: 'ones' }, trainable: true, weightDecay: false }),
    e.param({ name: `${id}/bias`, shape: [c], init: { kind: 'zeros' }, trainable: true, weightDecay: false }),
    e.param({ name: `${id}/mean`, shape: [c], init: { kind: 'zeros' }, trainable: false, weightDecay: false }),
    e.param({ name: `${id}/var`, shape: [c], init: { kind: 'ones' }, trainable: false, weightDecay: false }),
  ];
  e.node({
    id,
    op: 'BatchNormalization',
    inputs: [x.id],
    attrs: { epsilon: bn.epsilon, momentum: bn.momentum },
    params: names,
  });
  return { ...x, id };
}

/**
 * Emits `Relu`.
 * @param e emitter
 * @param id node id
 * @param x input tensor
 */
export function relu(e: IrEmitter, id: string, x: TensorRef): TensorRef {
  e.node({ id, op: 'Relu', inputs: [x.id] });
  return { ...x, id };
}

/**
 * Emits `MaxPool` or `AveragePool` (k×k, TF SAME or VALID; average excludes padding like TF).
 * @param e emitter
 * @param id node id
 * @param x input tensor
 * @param kind 'max' or 'avg'
 * @param kernel window size k
 * @param stride stride (1 or 2, or 3 for the auxiliary head)
 * @param padding 'same' (default) or 'valid'
 */
export function pool(
  e: IrEmitter,
  id: string,
  x: TensorRef,
  kind: 'max' | 'avg',
  kernel: number,
  stride: number,
  padding: 'same' | 'valid' = 'same',
): TensorRef {
  let pads: [number, number, number, number] = [0, 0, 0, 0];
  let oh: number;
  let ow: number;
  if (padding === 'same') {
    const [t, b, h] = samePad1d(x.height, kernel, stride);
    const [l, r, w] = samePad1d(x.width, kernel, stride);
    pads = [t, l, b, r];
    oh = h;
    ow = w;
  } else {
    oh = Math.floor((x.height - kernel) / stride) + 1;
    ow = Math.floor((x.width - kernel) / stride) + 1;
  }
  if (oh < 1 || ow < 1) {
    throw new ValidationError(`IR node '${id}': ${kernel}x${kernel} pooling on a ${x.height}x${x.width} input gives an empty output`);
  }
  const attrs: PoolAttrs = { kernel_shape: [kernel, kernel], strides: [stride, stride], pads };
  if (kind === 'avg') attrs.count_include_pad = 0;
  e.node({ id, op: kind === 'max' ? 'MaxPool' : 'AveragePool', inputs: [x.id], attrs });
  return { id, channels: x.channels, height: oh, width: ow };
}

/**
 * Emits channel concatenation (`Concat`, axis 1). Inputs must share their spatial size.
 * @param e emitter
 * @param id node id
 * @param xs inputs, in channel order
 */
export function concat(e: IrEmitter, id: string, xs: readonly TensorRef[]): TensorRef {
  const first = xs[0]!;
  for (const x of xs) {
    if (x.height !== first.height || x.width !== first.width) {
      throw new ValidationError(
        `IR node '${id}': Concat inputs differ in spatial size (${first.id} is ${first.height}x${first.width}, ${x.id} is ${x.height}x${x.width})`,
      );
    }
  }
  e.node({ id, op: 'Concat', inputs: xs.map((x) => x.id), attrs: { axis: 1 } });
  return { id, channels: xs.reduce((s, x) => s + x.channels, 0), height: first.height, width: first.width };
}

/**
 * Emits `Add` of two tensors of the same shape.
 * @param e emitter
 * @param id node id
 * @param a left tensor
 * @param b right tensor
 */
export function add(e: IrEmitter, id: string, a: TensorRef, b: TensorRef): TensorRef {
  if (a.channels !== b.channels || a.height !== b.height || a.width !== b.width) {
    throw new ValidationError(
      `IR node '${id}': Add inputs differ in shape (${a.id} is ${a.channels}x${a.height}x${a.width}, ${b.id} is ${b.channels}x${b.height}x${b.width})`,
    );
  }
  e.node({ id, op: 'Add', inputs: [a.id, b.id] });
  return { ...a, id };
}

/**
 * slim `factorized_reduction`. Stride 1: 1×1 conv + BN. Stride 2: two half-width paths, a 1×1
 * stride-2 conv on x and the same on x shifted by one pixel (zero-pad bottom/right, slice off the
 * first row and column), concatenated along channels, then BN. Halves the spatial size without
 * dropping every other pixel. slim requires an even `out` (two `out / 2` paths); an odd `out` gives
 * the shifted path the extra channel (⌊out/2⌋ + ⌈out/2⌉), so any F can be built (the
 * parameter-matched sizes of `matchParams` need every F, not only even ones).
 * @param e emitter
 * @param scope name prefix
 * @param x input tensor
 * @param out output channels
 * @param stride 1 or 2
 * @param bn BN settings
 */
export function factorizedReduction(
  e: IrEmitter,
  scope: string,
  x: TensorRef,
  out: number,
  stride: 1 | 2,
  bn: BnConfig,
): TensorRef {
  if (stride === 1) {
    const y = conv(e, `${scope}/path_conv`, x, { out, kernel: [1, 1] });
    return batchNorm(e, `${scope}/path_bn`, y, bn);
  }
  const half = Math.floor(out / 2);
  const p1 = conv(e, `${scope}/path1_conv`, x, { out: half, kernel: [1, 1], stride: [2, 2], padding: 'valid' });
  const padId = e.node({
    id: `${scope}/path2_pad`,
    op: 'Pad',
    inputs: [x.id],
    attrs: { pads: [0, 0, 0, 0, 0, 0, 1, 1] },
  });
  const sliceId = e.node({
    id: `${scope}/path2_shift`,
    op: 'Slice',
    inputs: [padId],
    attrs: { starts: [1, 1], ends: [x.height + 1, x.width + 1], axes: [2, 3] },
  });
  const shifted: TensorRef = { id: sliceId, channels: x.channels, height: x.height, width: x.width };
  const p2 = conv(e, `${scope}/path2_conv`, shifted, { out: out - half, kernel: [1, 1], stride: [2, 2], padding: 'valid' });
  const cat = concat(e, `${scope}/concat`, [p1, p2]);
  return batchNorm(e, `${scope}/final_path_bn`, cat, bn);
}

/**
 * ReLU → conv → BN, the paper's standard conv unit.
 * @param e emitter
 * @param scope name prefix (`/relu`, `/conv`, `/bn` are appended)
 * @param x input tensor
 * @param o conv options
 * @param bn BN settings
 */
export function reluConvBn(e: IrEmitter, scope: string, x: TensorRef, o: ConvOptions, bn: BnConfig): TensorRef {
  const r = relu(e, `${scope}/relu`, x);
  const c = conv(e, `${scope}/conv`, r, o);
  return batchNorm(e, `${scope}/bn`, c, bn);
}
