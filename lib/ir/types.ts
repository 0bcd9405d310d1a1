/**
 * The graph IR: how TypeScript describes a network to the native engine.
 *
 * A graph is versioned JSON. Every node produces exactly one tensor, named by its `id`; `inputs`
 * name graph inputs or other nodes. Tensors are float32 NCHW unless stated (labels are int32 [N]).
 * The batch dimension is symbolic (`'N'`): a plan fixes it when it is compiled.
 *
 * Op names follow ONNX where ONNX has the op, so that ONNX export is a serialization. Ops marked
 * training-only ({@link TRAINING_ONLY_OPS}) are identities (or vanish) in inference and on export.
 *
 * Parameter order per op (names listed in `node.params`):
 * - `Conv`: `[W (K, C/group, kh, kw)]` or `[W, B (K)]`
 * - `BatchNormalization`: `[scale (C), B (C), mean (C), var (C)]` (ONNX input order)
 * - `Gemm`: `[W (out, in), B (out)]` (ONNX `transB = 1`)
 */

/** The IR version this package writes and its engine reads. */
export const IR_VERSION = 1;

/** Every op the engine knows. */
export const IR_OPS = [
  'Conv',
  'BatchNormalization',
  'Relu',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'Flatten',
  'Gemm',
  'Add',
  'Concat',
  'Pad',
  'Slice',
  'Identity',
  'Dropout',
  'DropPath',
  'SoftmaxCrossEntropy',
  'WeightedSum',
] as const;

/** Name of an IR op. */
export type IrOp = (typeof IR_OPS)[number];

/** Ops that only exist while training; inference (and ONNX export) treats them as identities or drops them. */
export const TRAINING_ONLY_OPS: readonly IrOp[] = ['Dropout', 'DropPath', 'SoftmaxCrossEntropy', 'WeightedSum'];

/** Attributes of `Conv` (ONNX semantics; `pads` = [top, left, bottom, right]). */
export interface ConvAttrs {
  kernel_shape: [number, number];
  strides?: [number, number];
  pads?: [number, number, number, number];
  dilations?: [number, number];
  group?: number;
}

/** Attributes of `BatchNormalization`. ONNX momentum: running = running * momentum + batch * (1 - momentum). */
export interface BatchNormAttrs {
  epsilon?: number;
  momentum?: number;
}

/** Attributes of `MaxPool` and `AveragePool` (`pads` = [top, left, bottom, right]). */
export interface PoolAttrs {
  kernel_shape: [number, number];
  strides?: [number, number];
  pads?: [number, number, number, number];
  /** AveragePool only: divide by the full window (1) or by the valid part (0, default). */
  count_include_pad?: 0 | 1;
}

/** Attributes of `Pad`: ONNX 4-D pads `[n0, c0, h0, w0, n1, c1, h1, w1]`, constant zero. */
export interface PadAttrs {
  pads: [number, number, number, number, number, number, number, number];
}

/** Attributes of `Slice` on spatial axes (ONNX semantics with explicit axes). */
export interface SliceAttrs {
  starts: number[];
  ends: number[];
  axes: number[];
  steps?: number[];
}

/** Attributes of `Concat` (only channel concatenation, axis 1, is supported). */
export interface ConcatAttrs {
  axis: 1;
}

/** Attributes of `Flatten` (axis 1: [N, C, H, W] → [N, C*H*W]). */
export interface FlattenAttrs {
  axis: 1;
}

/** Attributes of `Gemm` (always `transB = 1`: y = x Wᵀ + b). */
export interface GemmAttrs {
  transB: 1;
}

/** Attributes of dense `Dropout`. */
export interface DropoutAttrs {
  ratio: number;
}

/**
 * Attributes of `DropPath`: drops a whole sample's path with probability `rate * layer_ratio`, where
 * `rate` is given per training step (ScheduledDropPath: TypeScript computes it from progress) and
 * `layer_ratio` is the cell's depth fraction ((cell index + 1) / cells). Survivors are scaled by 1/keep.
 */
export interface DropPathAttrs {
  layer_ratio: number;
}

/** Attributes of `SoftmaxCrossEntropy`: inputs `[logits (N, K), labels (N, int32)]`, output a scalar mean loss. */
export interface SoftmaxCrossEntropyAttrs {
  label_smoothing?: number;
}

/** Attributes of `WeightedSum`: a scalar `sum_i weights[i] * inputs[i]` (the total loss with an auxiliary head). */
export interface WeightedSumAttrs {
  weights: number[];
}

/** Ops without attributes. */
export type NoAttrs = Record<string, never>;

/** Every op paired with its attribute type (tfjs `kernel_names.ts`): the one table the node type derives from. */
export interface IrAttrsByOp {
  Conv: ConvAttrs;
  BatchNormalization: BatchNormAttrs;
  Relu: NoAttrs;
  MaxPool: PoolAttrs;
  AveragePool: PoolAttrs;
  GlobalAveragePool: NoAttrs;
  Flatten: FlattenAttrs;
  Gemm: GemmAttrs;
  Add: NoAttrs;
  Concat: ConcatAttrs;
  Pad: PadAttrs;
  Slice: SliceAttrs;
  Identity: NoAttrs;
  Dropout: DropoutAttrs;
  DropPath: DropPathAttrs;
  SoftmaxCrossEntropy: SoftmaxCrossEntropyAttrs;
  WeightedSum: WeightedSumAttrs;
}

/**
 * A node of op `O`: `attrs` has `O`'s attribute type, required when that type has a required field.
 * @typeParam O - the op.
 */
export type IrNodeOf<O extends IrOp> = {
  id: string;
  op: O;
  inputs: string[];
  /** Names of the parameters this node reads, in the op's order (see the file header). */
  params?: string[];
} & (Record<string, never> extends IrAttrsByOp[O] ? { attrs?: IrAttrsByOp[O] } : { attrs: IrAttrsByOp[O] });

/**
 * One node: one op producing one tensor named `id`. A union discriminated by `op`, so that
 * `if (node.op === 'Conv')` types `node.attrs` as {@link ConvAttrs}.
 * @example const n: IrNode = { id: 'stem/conv', op: 'Conv', inputs: ['images'], attrs: { kernel_shape: [3, 3] }, params: ['stem/conv/W'] };
 */
export type IrNode = { [O in IrOp]: IrNodeOf<O> }[IrOp];

/** How a parameter is initialized when the store does not have it yet. */
export type IrInit =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'he_normal'; fanIn: number }
  | { kind: 'uniform'; limit: number };

/** A named parameter (or BN running statistic). */
export interface IrParam {
  name: string;
  shape: number[];
  init: IrInit;
  /** Updated by the optimizer (false for BN running statistics). */
  trainable: boolean;
  /** Weight decay applies (false for BN and biases by default). */
  weightDecay: boolean;
}

/** A graph input: `images` [N, C, H, W] float32, `labels` [N] int32. */
export interface IrInput {
  name: string;
  dtype: 'float32' | 'int32';
  shape: (number | 'N')[];
}

/** A whole network. */
export interface IrGraph {
  version: typeof IR_VERSION;
  inputs: IrInput[];
  /** Node ids whose values are returned: the logits first. */
  outputs: string[];
  /** The scalar loss node minimized in training (absent for inference-only graphs). */
  loss?: string;
  nodes: IrNode[];
  params: IrParam[];
}
