/**
 * The search space's operations as data: {@link OPS} maps every name of {@link PRIMITIVES} to a
 * builder with one signature. Nothing else in the package switches on op names.
 *
 * Conventions (TF-slim `nasnet_utils.py`, Zoph et al. 2018):
 * - convolutions are ReLU → conv → BN, bias-free;
 * - a separable conv is applied twice: ReLU, depthwise k×k (the stride is on the first depthwise
 *   only), pointwise 1×1, BN; then ReLU, depthwise, pointwise, BN. Nothing between depthwise and
 *   pointwise;
 * - pooling is k×k SAME with the stride, then 1×1 conv + BN only when channels change (no ReLU);
 * - identity is a no-op unless it must stride or change channels, then ReLU → 1×1 conv (strided) → BN;
 * - `conv_1xk_kx1` is ReLU, 1×k conv (stride on the width), k×1 conv (stride on the height), BN;
 * - `dil_conv_3x3` is ReLU → 3×3 conv with dilation 2 → BN.
 *
 * Identity is not dropped by DropPath (slim drops every op output except 'none').
 */
import type { IrNode, IrParam } from '../ir/types.js';
import {
  type BnConfig,
  batchNorm,
  conv,
  IrEmitter,
  pool,
  relu,
  reluConvBn,
  type TensorRef,
} from './emit.js';
import { type OpName, PRIMITIVES } from './space.js';

/** What an op builder gets. */
export interface OpContext {
  /** Scope path of the op, e.g. `cell7/block2/left/sep_conv_5x5`. */
  readonly prefix: string;
  /** Id of the input tensor. */
  readonly inputId: string;
  readonly channelsIn: number;
  readonly height: number;
  readonly width: number;
  /** Channels the op must output (the cell's filter count). */
  readonly channelsOut: number;
  /** 2 on ops reading a cell input (index 0 or 1) in a reduction cell, else 1. */
  readonly stride: 1 | 2;
  readonly bn: BnConfig;
}

/** What an op builder returns: the IR it emitted and its output tensor. */
export interface OpResult {
  readonly nodes: IrNode[];
  readonly params: IrParam[];
  /** Id of the output tensor (the input id itself for a true identity). */
  readonly output: string;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

/** One entry of {@link OPS}. */
export interface OpSpec {
  /** Short label for drawings, e.g. `sep 5x5`. */
  readonly label: string;
  /** Whether DropPath applies to this op's output in training graphs. */
  readonly droppable: boolean;
  /** Emits the op. */
  readonly build: (ctx: OpContext) => OpResult;
}

function run(ctx: OpContext, body: (e: IrEmitter, x: TensorRef) => TensorRef): OpResult {
  const e = new IrEmitter();
  const x: TensorRef = { id: ctx.inputId, channels: ctx.channelsIn, height: ctx.height, width: ctx.width };
  const y = body(e, x);
  return { nodes: e.nodes, params: e.params, output: y.id, channels: y.channels, height: y.height, width: y.width };
}

function separable(k: number): OpSpec {
  return {
    label: `sep ${k}x${k}`,
    droppable: true,
    build: (ctx) =>
      run(ctx, (e, x) => {
        let y = x;
        for (const i of [1, 2]) {
          const s = i === 1 ? ctx.stride : 1;
          y = relu(e, `${ctx.prefix}/relu${i}`, y);
          y = conv(e, `${ctx.prefix}/dw${i}`, y, { out: y.channels, kernel: [k, k], stride: [s, s], group: y.channels });
          y = conv(e, `${ctx.prefix}/pw${i}`, y, { out: ctx.channelsOut, kernel: [1, 1] });
          y = batchNorm(e, `${ctx.prefix}/bn${i}`, y, ctx.bn);
        }
        return y;
      }),
  };
}

function pooling(kind: 'max' | 'avg', k: number): OpSpec {
  return {
    label: `${kind} ${k}x${k}`,
    droppable: true,
    build: (ctx) =>
      run(ctx, (e, x) => {
        let y = pool(e, `${ctx.prefix}/pool`, x, kind, k, ctx.stride);
        if (y.channels !== ctx.channelsOut) {
          y = conv(e, `${ctx.prefix}/conv`, y, { out: ctx.channelsOut, kernel: [1, 1] });
          y = batchNorm(e, `${ctx.prefix}/bn`, y, ctx.bn);
        }
        return y;
      }),
  };
}

function plainConv(k: number, dilation: number, label: string): OpSpec {
  return {
    label,
    droppable: true,
    build: (ctx) =>
      run(ctx, (e, x) =>
        reluConvBn(
          e,
          ctx.prefix,
          x,
          { out: ctx.channelsOut, kernel: [k, k], stride: [ctx.stride, ctx.stride], dilation: [dilation, dilation] },
          ctx.bn,
        ),
      ),
  };
}

function factorizedConv(k: number): OpSpec {
  return {
    label: `1x${k} ${k}x1`,
    droppable: true,
    build: (ctx) =>
      run(ctx, (e, x) => {
        let y = relu(e, `${ctx.prefix}/relu`, x);
        y = conv(e, `${ctx.prefix}/conv1x${k}`, y, { out: ctx.channelsOut, kernel: [1, k], stride: [1, ctx.stride] });
        y = conv(e, `${ctx.prefix}/conv${k}x1`, y, { out: ctx.channelsOut, kernel: [k, 1], stride: [ctx.stride, 1] });
        return batchNorm(e, `${ctx.prefix}/bn`, y, ctx.bn);
      }),
  };
}

const identity: OpSpec = {
  label: 'identity',
  droppable: false,
  build: (ctx) =>
    run(ctx, (e, x) => {
      if (ctx.stride === 1 && ctx.channelsIn === ctx.channelsOut) return x;
      return reluConvBn(e, ctx.prefix, x, { out: ctx.channelsOut, kernel: [1, 1], stride: [ctx.stride, ctx.stride] }, ctx.bn);
    }),
};

/**
 * Every primitive of the search space, by name: label, DropPath eligibility and IR builder.
 * @example
 * const r = OPS.sep_conv_3x3.build({ prefix: 'c/b0/left/sep_conv_3x3', inputId: 'x', channelsIn: 32,
 *   height: 16, width: 16, channelsOut: 32, stride: 2, bn: DEFAULT_BN });
 * r.height // 8
 */
export const OPS: Readonly<Record<OpName, OpSpec>> = {
  identity,
  conv_1x3_3x1: factorizedConv(3),
  conv_1x7_7x1: factorizedConv(7),
  dil_conv_3x3: plainConv(3, 2, 'dil 3x3'),
  avg_pool_3x3: pooling('avg', 3),
  max_pool_3x3: pooling('max', 3),
  max_pool_5x5: pooling('max', 5),
  max_pool_7x7: pooling('max', 7),
  conv_1x1: plainConv(1, 1, 'conv 1x1'),
  conv_3x3: plainConv(3, 1, 'conv 3x3'),
  sep_conv_3x3: separable(3),
  sep_conv_5x5: separable(5),
  sep_conv_7x7: separable(7),
};

/**
 * Whether `name` is an op of the search space.
 * @param name any string
 * @example isOpName('sep_conv_3x3') // true
 */
export function isOpName(name: unknown): name is OpName {
  return typeof name === 'string' && (PRIMITIVES as readonly string[]).includes(name);
}
