import type { IrGraph, IrNode, IrParam } from '../../lib/ir/types.js';

/**
 * A small hand-built classifier IR for engine tests: conv → BN → ReLU → maxpool → separable
 * (depthwise + pointwise) → BN → add (residual) → GAP → flatten → gemm → softmax CE.
 */
export function tinyClassifier(opts: { channels?: number; size?: number; classes?: number; width?: number; prefix?: string } = {}): IrGraph {
  const C = opts.channels ?? 3;
  const S = opts.size ?? 8;
  const K = opts.classes ?? 4;
  const W = opts.width ?? 8;
  const p = opts.prefix ?? 'net';
  const params: IrParam[] = [];
  const conv = (name: string, shape: number[]) => params.push({ name, shape, init: { kind: 'he_normal', fanIn: shape[1] * shape[2] * shape[3] }, trainable: true, weightDecay: true });
  const bn = (name: string, c: number) => {
    params.push({ name: `${name}/scale`, shape: [c], init: { kind: 'ones' }, trainable: true, weightDecay: false });
    params.push({ name: `${name}/B`, shape: [c], init: { kind: 'zeros' }, trainable: true, weightDecay: false });
    params.push({ name: `${name}/mean`, shape: [c], init: { kind: 'zeros' }, trainable: false, weightDecay: false });
    params.push({ name: `${name}/var`, shape: [c], init: { kind: 'ones' }, trainable: false, weightDecay: false });
  };
  conv(`${p}/stem/W`, [W, C, 3, 3]);
  bn(`${p}/stem/bn`, W);
  conv(`${p}/sep/dw/W`, [W, 1, 3, 3]);
  conv(`${p}/sep/pw/W`, [W, W, 1, 1]);
  bn(`${p}/sep/bn`, W);
  params.push({ name: `${p}/fc/W`, shape: [K, W], init: { kind: 'uniform', limit: 1 / Math.sqrt(W) }, trainable: true, weightDecay: true });
  params.push({ name: `${p}/fc/B`, shape: [K], init: { kind: 'zeros' }, trainable: true, weightDecay: false });
  const bnParams = (n: string) => [`${n}/scale`, `${n}/B`, `${n}/mean`, `${n}/var`];
  const nodes: IrNode[] = [
    { id: 'stem', op: 'Conv', inputs: ['images'], params: [`${p}/stem/W`], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
    { id: 'stem_bn', op: 'BatchNormalization', inputs: ['stem'], params: bnParams(`${p}/stem/bn`), attrs: { epsilon: 1e-5, momentum: 0.9 } },
    { id: 'stem_relu', op: 'Relu', inputs: ['stem_bn'] },
    { id: 'pool', op: 'MaxPool', inputs: ['stem_relu'], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] } },
    { id: 'sep_relu', op: 'Relu', inputs: ['pool'] },
    { id: 'sep_dw', op: 'Conv', inputs: ['sep_relu'], params: [`${p}/sep/dw/W`], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: W } },
    { id: 'sep_pw', op: 'Conv', inputs: ['sep_dw'], params: [`${p}/sep/pw/W`], attrs: { kernel_shape: [1, 1] } },
    { id: 'sep_bn', op: 'BatchNormalization', inputs: ['sep_pw'], params: bnParams(`${p}/sep/bn`), attrs: { epsilon: 1e-5, momentum: 0.9 } },
    { id: 'sep_drop', op: 'DropPath', inputs: ['sep_bn'], attrs: { layer_ratio: 1 } },
    { id: 'res', op: 'Add', inputs: ['sep_drop', 'pool'] },
    { id: 'gap', op: 'GlobalAveragePool', inputs: ['res'] },
    { id: 'flat', op: 'Flatten', inputs: ['gap'], attrs: { axis: 1 } },
    { id: 'logits', op: 'Gemm', inputs: ['flat'], params: [`${p}/fc/W`, `${p}/fc/B`], attrs: { transB: 1 } },
    { id: 'loss', op: 'SoftmaxCrossEntropy', inputs: ['logits', 'labels'], attrs: { label_smoothing: 0 } },
  ];
  return {
    version: 1,
    inputs: [
      { name: 'images', dtype: 'float32', shape: ['N', C, S, S] },
      { name: 'labels', dtype: 'int32', shape: ['N'] },
    ],
    outputs: ['logits'],
    loss: 'loss',
    nodes,
    params,
  };
}

/** A deterministic pseudo-random Float32Array in [-1, 1). */
export function randomFloats(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}
