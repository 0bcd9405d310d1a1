/**
 * Networks from a genotype (TF-slim `nasnet.py` `_build_nasnet_base`): a stem, three stacks of N
 * normal cells with a reduction cell before the second and the third (filters × 2 at each), an
 * auxiliary head (training graphs only), and the classifier head.
 *
 * - CIFAR stem: 3×3 conv with F × stem multiplier filters → BN. The first cell's h_{i-1} is the stem.
 * - ImageNet stem: 3×3 stride-2 VALID conv with 32 × stem multiplier filters → BN, then two
 *   reduction cells at F/4 and F/2 (the first one's h_{i-1} is the conv output itself).
 * - `skipReductionLayerInput` (slim `skip_reduction_layer_input`, the large model): the normal cell
 *   after a reduction cell reads as h_{i-1} the cell before the reduction cell's h_i.
 * - Auxiliary head (slim `_build_aux_head`) after the last normal cell of the second stack:
 *   ReLU → 5×5 stride-3 VALID average pool → 1×1 conv 128 → BN → ReLU → conv over the whole map
 *   to 768 → BN → ReLU → Flatten → Gemm. Its loss weight is 0.4 by default.
 * - Head: ReLU → GlobalAveragePool → Flatten → Dropout (training, when keep < 1) → Gemm.
 *
 * Features (stem + cells) and head are built separately ({@link buildFeatures}, {@link buildHead}):
 * feature parameter names do not depend on the number of classes, so transfer is a swap of the
 * head's parameters ({@link NetworkMeta.headParams}).
 *
 * Cells are named `cell${k}` with k the cell's position in the whole network (stem cells included),
 * which is also slim's DropPath layer index: `layer_ratio = (k + 1) / cells`.
 */
import { ValidationError } from '../errors.js';
import { IR_VERSION, type IrGraph } from '../ir/types.js';
import { checkBoolean, checkChoice, checkInteger, checkNumber, checkObject, invalid, received } from '../util/check.js';
import { buildCell } from './cell.js';
import { type BnConfig, batchNorm, conv, IrEmitter, pool, relu, type TensorRef } from './emit.js';
import { cellOutputWidth, validateGenotype } from './genotype.js';
import type { Genotype } from './genotype-types.js';
import { WIRINGS, type WiringName } from './wiring.js';

/**
 * Options of {@link buildNetwork}. Every field has a default, which depends on `stem`: 'cifar'
 * defaults are NASNet-A 6@768 on CIFAR-10 (slim `cifar_config`), 'imagenet' defaults NASNet-A
 * 4@1056 at 224×224 with 1000 classes (slim `mobile_imagenet_config`). Defaults below are CIFAR's,
 * ImageNet's in brackets where they differ.
 */
export interface NetworkOptions {
  /** 'cifar' (3×3 conv stem) or 'imagenet' (strided conv + two reduction stem cells). Default 'cifar'. */
  stem?: 'cifar' | 'imagenet';
  /** N: normal cells per stack. Default 6 [4]. */
  cellsPerStack?: number;
  /** F: filters of the first stack's cells (slim `num_conv_filters`). Default 32 [44]. */
  filters?: number;
  /**
   * Penultimate filter count in the paper's N@P naming; sets F when given. P is the width of the last
   * normal cell's output: F × 2^reductions × the normal cell's output width in units of F
   * ({@link cellOutputWidth}: 6 for NASNet-A, so P = 24 F; a searched cell concatenating 3 states
   * gives P = 12 F). Without a genotype ({@link resolveNetworkOptions} alone) NASNet-A's 24 is assumed.
   */
  penultimate?: number;
  /** Stem filters = F × multiplier (CIFAR) or 32 × multiplier (ImageNet). Default 3 [1]. */
  stemMultiplier?: number;
  /** Classes of the classifier. Default 10 [1000]. */
  numClasses?: number;
  /** Input height and width (a number for square). Default 32 [224]. */
  inputSize?: number | readonly [number, number];
  /** Input channels. Default 3. */
  inputChannels?: number;
  /** Build the auxiliary head in the training graph. Default true. */
  auxHead?: boolean;
  /** Weight of the auxiliary loss. Default 0.4. */
  auxWeight?: number;
  /** Keep probability of the dropout before the classifier (1 = none). Default 1 [0.5]. */
  denseDropoutKeep?: number;
  /** Label smoothing of the cross-entropy. Default 0 [0.1]. */
  labelSmoothing?: number;
  /** slim `skip_reduction_layer_input`. Default false. */
  skipReductionLayerInput?: boolean;
  /** Emit DropPath nodes in the training graph (their rate is set per step). Default true. */
  dropPath?: boolean;
  /**
   * Scale each cell's DropPath rate by its depth, `layer_ratio = (cell index + 1) / cells` (TF-slim's
   * drop_connect_version v2 and v3). false gives every cell `layer_ratio` 1: the drop rate then
   * depends on training progress only (v1, `dropPathMode: 'time'` in `train()`). Default true.
   */
  dropPathDepthScaling?: boolean;
  /** Filter multiplier at each reduction. Default 2. */
  filterScalingRate?: number;
  /** Reduction cells between stacks (stacks = reductions + 1). Default 2. */
  reductions?: number;
  /** BN epsilon. Default 1e-5 [1e-3]. */
  bnEpsilon?: number;
  /** BN momentum in ONNX convention (slim decay). Default 0.9 [0.9997]. */
  bnMomentum?: number;
  /**
   * How cells are wired (see lib/cells/wiring.ts): 'standalone' (default, TF-slim's) or 'shared', the
   * weight-sharing search's form in which every parameter's shape depends only on its name.
   */
  wiring?: WiringName;
}

/** {@link NetworkOptions} with every default applied. */
export interface ResolvedNetworkOptions {
  stem: 'cifar' | 'imagenet';
  cellsPerStack: number;
  filters: number;
  stemMultiplier: number;
  numClasses: number;
  inputSize: [number, number];
  inputChannels: number;
  auxHead: boolean;
  auxWeight: number;
  denseDropoutKeep: number;
  labelSmoothing: number;
  skipReductionLayerInput: boolean;
  dropPath: boolean;
  dropPathDepthScaling: boolean;
  filterScalingRate: number;
  reductions: number;
  bnEpsilon: number;
  bnMomentum: number;
  wiring: WiringName;
}

/** One cell of a built network. */
export interface CellInfo {
  /** Scope name, `cell${index}`. */
  name: string;
  /** Position in the network, stem cells included. */
  index: number;
  kind: 'normal' | 'reduction' | 'stem';
  /** Filters of every op in the cell. */
  filters: number;
  /** Output shape [channels, height, width]. */
  output: [number, number, number];
  /** DropPath layer ratio (index + 1) / cells. */
  layerRatio: number;
}

/** What {@link buildNetwork} reports about the network. */
export interface NetworkMeta {
  options: ResolvedNetworkOptions;
  /** The paper's name, `N@P`, e.g. `6@768`. */
  name: string;
  N: number;
  F: number;
  /** Channels of the last cell's output. */
  penultimate: number;
  cells: CellInfo[];
  /** Id of the features output (the last cell's output). */
  features: string;
  /** Node id of the logits. */
  logits: string;
  /** Node id of the auxiliary logits (training graph), or null. */
  auxLogits: string | null;
  /** Name of the cell the auxiliary head reads, or null. */
  auxCell: string | null;
  /** Parameters whose shape depends on the number of classes (swap these for transfer). */
  headParams: string[];
}

/** Result of {@link buildNetwork}. */
export interface BuiltNetwork {
  /** Training graph: DropPath, Dropout, auxiliary head and the loss. Inputs images and labels. */
  graph: IrGraph;
  /** Inference graph: the same parameters, no training-only ops, no auxiliary head. Input images. */
  inference: IrGraph;
  meta: NetworkMeta;
}

/** NASNet-A's normal cell concatenates 6 states (TF-slim `NasNetANormalCell`): P = 24 F. */
const NASNET_A_OUTPUT_WIDTH = 6;

/**
 * Defaults when `stem` is 'cifar' (slim `cifar_config` and its arg scope): NASNet-A 6@768 on CIFAR-10.
 * The one place of these constants; the 'nasnet-a-cifar' preset is this.
 */
export const CIFAR_DEFAULTS: Readonly<ResolvedNetworkOptions> = Object.freeze<ResolvedNetworkOptions>({
  stem: 'cifar',
  cellsPerStack: 6,
  filters: 32,
  stemMultiplier: 3,
  numClasses: 10,
  inputSize: [32, 32],
  inputChannels: 3,
  auxHead: true,
  auxWeight: 0.4,
  denseDropoutKeep: 1,
  labelSmoothing: 0,
  skipReductionLayerInput: false,
  dropPath: true,
  dropPathDepthScaling: true,
  filterScalingRate: 2,
  reductions: 2,
  bnEpsilon: 1e-5,
  bnMomentum: 0.9,
  wiring: 'standalone',
});

/**
 * Defaults when `stem` is 'imagenet' (slim `mobile_imagenet_config` and its arg scope): 4@1056 at 224.
 * The one place of these constants; the 'nasnet-a-mobile' preset is this, 'nasnet-a-large' differs from it.
 */
export const IMAGENET_DEFAULTS: Readonly<ResolvedNetworkOptions> = Object.freeze<ResolvedNetworkOptions>({
  ...CIFAR_DEFAULTS,
  stem: 'imagenet',
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

/**
 * The penultimate width per unit of F: `filterScalingRate^reductions × cellOutputWidth(normal)`
 * (24 for NASNet-A with two reductions).
 * @param genotype the cells (NASNet-A's output width 6 when absent)
 * @param options network options (reductions and filter scaling)
 * @example penultimatePerFilter(NASNET_A) // 24
 */
export function penultimatePerFilter(genotype?: Genotype, options: Pick<NetworkOptions, 'reductions' | 'filterScalingRate'> = {}): number {
  const width = genotype ? cellOutputWidth(genotype.normal) : NASNET_A_OUTPUT_WIDTH;
  return width * (options.filterScalingRate ?? CIFAR_DEFAULTS.filterScalingRate) ** (options.reductions ?? CIFAR_DEFAULTS.reductions);
}

/**
 * Applies defaults and checks every option.
 * @param options partial options
 * @param genotype the cells, when known: `penultimate` is then divided by their real output width
 *   ({@link penultimatePerFilter}); without it NASNet-A's P = 24 F is assumed
 * @throws ValidationError naming the option, e.g. `Expected positive integer for cellsPerStack but received -3 of type number`
 * @example resolveNetworkOptions({ penultimate: 768 }).filters // 32
 */
export function resolveNetworkOptions(options: NetworkOptions = {}, genotype?: Genotype): ResolvedNetworkOptions {
  checkObject(options, 'network options', { known: [...Object.keys(CIFAR_DEFAULTS), 'penultimate'] });
  const defaults = options.stem === 'imagenet' ? IMAGENET_DEFAULTS : CIFAR_DEFAULTS;
  const o = { ...defaults, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as ResolvedNetworkOptions & {
    penultimate?: number;
  };
  if (options.penultimate !== undefined) {
    const p = checkInteger(options.penultimate, 'penultimate');
    const k = penultimatePerFilter(genotype, o);
    const why = genotype ? ` for this genotype (its normal cell outputs ${cellOutputWidth(genotype.normal)} × F channels)` : '';
    if (!Number.isInteger(k) || p % k !== 0) throw invalid('penultimate', `a multiple of ${k} (P = ${k} F${why})`, received(p));
    if (options.filters !== undefined && options.filters * k !== p) {
      throw new ValidationError(`filters ${options.filters} and penultimate ${p} disagree (penultimate = ${k} * filters${why})`);
    }
    o.filters = p / k;
  }
  const size = typeof o.inputSize === 'number' ? [o.inputSize, o.inputSize] : o.inputSize;
  if (!Array.isArray(size) || size.length !== 2) throw invalid('inputSize', 'a number or [height, width]', received(o.inputSize));
  const resolved: ResolvedNetworkOptions = {
    stem: checkChoice(o.stem, 'stem', ['cifar', 'imagenet'] as const),
    cellsPerStack: checkInteger(o.cellsPerStack, 'cellsPerStack'),
    filters: checkInteger(o.filters, 'filters'),
    stemMultiplier: checkNumber(o.stemMultiplier, 'stemMultiplier', { min: 0, max: 64, minOpen: true }),
    numClasses: checkInteger(o.numClasses, 'numClasses'),
    inputSize: [checkInteger(size[0], 'inputSize[0]'), checkInteger(size[1], 'inputSize[1]')],
    inputChannels: checkInteger(o.inputChannels, 'inputChannels'),
    auxHead: checkBoolean(o.auxHead, 'auxHead'),
    auxWeight: checkNumber(o.auxWeight, 'auxWeight', { min: 0, max: 1e6 }),
    denseDropoutKeep: checkNumber(o.denseDropoutKeep, 'denseDropoutKeep', { min: 0, max: 1, minOpen: true }),
    labelSmoothing: checkNumber(o.labelSmoothing, 'labelSmoothing', { min: 0, max: 1 }),
    skipReductionLayerInput: checkBoolean(o.skipReductionLayerInput, 'skipReductionLayerInput'),
    dropPath: checkBoolean(o.dropPath, 'dropPath'),
    dropPathDepthScaling: checkBoolean(o.dropPathDepthScaling, 'dropPathDepthScaling'),
    filterScalingRate: checkNumber(o.filterScalingRate, 'filterScalingRate', { min: 0, max: 16, minOpen: true }),
    reductions: checkInteger(o.reductions, 'reductions'),
    bnEpsilon: checkNumber(o.bnEpsilon, 'bnEpsilon', { min: 0, max: 1, minOpen: true }),
    bnMomentum: checkNumber(o.bnMomentum, 'bnMomentum', { min: 0, max: 1 }),
    wiring: checkChoice(o.wiring, 'wiring', Object.keys(WIRINGS) as WiringName[]),
  };
  return resolved;
}

/** slim `calc_reduction_layers`: indices of the normal cells preceded by a reduction cell. */
function reductionLayers(numCells: number, reductions: number): number[] {
  const out: number[] = [];
  for (let p = 1; p <= reductions; p++) out.push(Math.floor((p / (reductions + 1)) * numCells));
  return out;
}

/** What {@link buildFeatures} emits. */
export interface Features {
  /** The last cell's output. */
  output: TensorRef;
  /** The tensor the auxiliary head reads (after its ReLU is applied by the head), or null. */
  auxSource: TensorRef | null;
  auxCell: string | null;
  cells: CellInfo[];
}

/**
 * Emits the stem and every cell into `e` (slim `_build_nasnet_base` up to the final layer).
 * @param e emitter
 * @param g validated genotype
 * @param o resolved options
 * @param training emit DropPath nodes (when `o.dropPath`)
 * @param images the images tensor [C, H, W]
 */
export function buildFeatures(
  e: IrEmitter,
  g: Genotype,
  o: ResolvedNetworkOptions,
  training: boolean,
  images: TensorRef,
): Features {
  const bn: BnConfig = { epsilon: o.bnEpsilon, momentum: o.bnMomentum };
  const numCells = o.cellsPerStack * (o.reductions + 1);
  const redAt = reductionLayers(numCells, o.reductions);
  const stemCells = o.stem === 'imagenet' ? 2 : 0;
  const totalCells = numCells + o.reductions + stemCells;
  const cells: CellInfo[] = [];
  let index = 0;
  const cellOf = (
    genotypeCell: Genotype['normal'],
    kind: CellInfo['kind'],
    input: TensorRef,
    prevInput: TensorRef | null,
    filters: number,
  ): TensorRef => {
    const name = `cell${index}`;
    const layerRatio = o.dropPathDepthScaling ? (index + 1) / totalCells : 1;
    const out = buildCell(e, genotypeCell, {
      name,
      reduction: kind !== 'normal',
      input,
      prevInput,
      filters,
      bn,
      dropPathRatio: training && o.dropPath ? layerRatio : null,
      wiring: WIRINGS[o.wiring],
    });
    cells.push({ name, index, kind, filters, output: [out.channels, out.height, out.width], layerRatio });
    index++;
    return out;
  };

  let net: TensorRef;
  const outputs: (TensorRef | null)[] = [null];
  if (o.stem === 'cifar') {
    net = conv(e, 'stem/conv', images, { out: Math.floor(o.filters * o.stemMultiplier), kernel: [3, 3] });
    net = batchNorm(e, 'stem/bn', net, bn);
    outputs.push(net);
  } else {
    net = conv(e, 'stem/conv', images, {
      out: Math.floor(32 * o.stemMultiplier),
      kernel: [3, 3],
      stride: [2, 2],
      padding: 'valid',
    });
    net = batchNorm(e, 'stem/bn', net, bn);
    outputs.push(net);
    let scaling = 1 / o.filterScalingRate ** stemCells;
    for (let s = 0; s < stemCells; s++) {
      net = cellOf(g.reduction, 'stem', net, outputs[outputs.length - 2], Math.floor(o.filters * scaling));
      outputs.push(net);
      scaling *= o.filterScalingRate;
    }
  }

  const auxAt = redAt.length >= 2 ? redAt[1]! - 1 : -1;
  let auxSource: TensorRef | null = null;
  let auxCell: string | null = null;
  let scaling = 1;
  for (let c = 0; c < numCells; c++) {
    let prev: TensorRef | null = o.skipReductionLayerInput ? outputs[outputs.length - 2] : null;
    if (redAt.includes(c)) {
      scaling *= o.filterScalingRate;
      net = cellOf(g.reduction, 'reduction', net, outputs[outputs.length - 2], Math.floor(o.filters * scaling));
      outputs.push(net);
    }
    if (!o.skipReductionLayerInput) prev = outputs[outputs.length - 2];
    net = cellOf(g.normal, 'normal', net, prev, Math.floor(o.filters * scaling));
    if (c === auxAt) {
      auxSource = net;
      auxCell = cells[cells.length - 1]!.name;
    }
    outputs.push(net);
  }
  return { output: net, auxSource, auxCell, cells };
}

/**
 * Emits the classifier head: ReLU → GlobalAveragePool → Flatten → Dropout (training, keep < 1) → Gemm.
 * Parameters `head/fc/W` [numClasses, C] and `head/fc/B` [numClasses].
 * @param e emitter
 * @param features the last cell's output
 * @param numClasses number of classes
 * @param dropoutKeep keep probability (1 = no Dropout node)
 * @param training whether Dropout is emitted
 * @returns the logits node id
 */
export function buildHead(
  e: IrEmitter,
  features: TensorRef,
  numClasses: number,
  dropoutKeep: number,
  training: boolean,
): string {
  let x = relu(e, 'head/relu', features).id;
  x = e.node({ id: 'head/pool', op: 'GlobalAveragePool', inputs: [x] });
  x = e.node({ id: 'head/flatten', op: 'Flatten', inputs: [x], attrs: { axis: 1 } });
  if (training && dropoutKeep < 1) {
    x = e.node({ id: 'head/dropout', op: 'Dropout', inputs: [x], attrs: { ratio: 1 - dropoutKeep } });
  }
  return gemm(e, 'head/fc', x, features.channels, numClasses);
}

function gemm(e: IrEmitter, id: string, x: string, inFeatures: number, out: number): string {
  const limit = 1 / Math.sqrt(inFeatures);
  const w = e.param({ name: `${id}/W`, shape: [out, inFeatures], init: { kind: 'uniform', limit }, trainable: true, weightDecay: true });
  const b = e.param({ name: `${id}/B`, shape: [out], init: { kind: 'uniform', limit }, trainable: true, weightDecay: false });
  return e.node({ id, op: 'Gemm', inputs: [x], attrs: { transB: 1 }, params: [w, b] });
}

/**
 * Emits slim's auxiliary head on `source` (scope `aux`).
 * @param e emitter
 * @param source the output of the cell the head reads
 * @param numClasses number of classes
 * @param bn BN settings
 * @returns the auxiliary logits node id
 */
export function buildAuxHead(e: IrEmitter, source: TensorRef, numClasses: number, bn: BnConfig): string {
  if (source.height < 5 || source.width < 5) {
    throw new ValidationError(
      `auxiliary head: its 5x5 pooling needs a feature map of at least 5x5 but '${source.id}' is ${source.height}x${source.width}; use a larger inputSize or auxHead: false`,
    );
  }
  let x = relu(e, 'aux/relu', source);
  x = pool(e, 'aux/pool', x, 'avg', 5, 3, 'valid');
  x = conv(e, 'aux/proj', x, { out: 128, kernel: [1, 1] });
  x = batchNorm(e, 'aux/bn0', x, bn);
  x = relu(e, 'aux/relu0', x);
  x = conv(e, 'aux/conv', x, { out: 768, kernel: [x.height, x.width], padding: 'valid' });
  x = batchNorm(e, 'aux/bn1', x, bn);
  x = relu(e, 'aux/relu1', x);
  const flat = e.node({ id: 'aux/flatten', op: 'Flatten', inputs: [x.id], attrs: { axis: 1 } });
  return gemm(e, 'aux/fc', flat, x.channels * x.height * x.width, numClasses);
}

function assemble(g: Genotype, o: ResolvedNetworkOptions, training: boolean) {
  const e = new IrEmitter();
  const [h, w] = o.inputSize;
  const images: TensorRef = { id: 'images', channels: o.inputChannels, height: h, width: w };
  const f = buildFeatures(e, g, o, training, images);
  const logits = buildHead(e, f.output, o.numClasses, o.denseDropoutKeep, training);
  let auxLogits: string | null = null;
  if (training && o.auxHead && f.auxSource) {
    auxLogits = buildAuxHead(e, f.auxSource, o.numClasses, { epsilon: o.bnEpsilon, momentum: o.bnMomentum });
  }
  const graph: IrGraph = {
    version: IR_VERSION,
    inputs: [{ name: 'images', dtype: 'float32', shape: ['N', o.inputChannels, h, w] }],
    outputs: [logits],
    nodes: e.nodes,
    params: e.params,
  };
  if (training) {
    graph.inputs.push({ name: 'labels', dtype: 'int32', shape: ['N'] });
    const ceAttrs = { label_smoothing: o.labelSmoothing };
    const ce = e.node({ id: 'loss/ce', op: 'SoftmaxCrossEntropy', inputs: [logits, 'labels'], attrs: ceAttrs });
    let loss = ce;
    if (auxLogits) {
      const auxCe = e.node({ id: 'loss/aux_ce', op: 'SoftmaxCrossEntropy', inputs: [auxLogits, 'labels'], attrs: ceAttrs });
      loss = e.node({ id: 'loss/total', op: 'WeightedSum', inputs: [ce, auxCe], attrs: { weights: [1, o.auxWeight] } });
      graph.outputs.push(auxLogits);
    }
    graph.outputs.push(loss);
    graph.loss = loss;
  }
  return { graph, features: f, logits, auxLogits };
}

/**
 * Builds a network from a genotype: the training graph (DropPath, Dropout, auxiliary head, loss =
 * cross-entropy + auxWeight × auxiliary cross-entropy via `WeightedSum`) and the inference graph
 * (same parameter names). Inputs: `images` [N, C, H, W] float32 and, in training, `labels` [N] int32.
 * `outputs[0]` is the logits; the training graph then lists the auxiliary logits (if any) and the loss.
 * @param genotype a genotype (validated here)
 * @param options network options (see {@link NetworkOptions}; defaults: CIFAR 6@768)
 * @example
 * const { graph, inference, meta } = buildNetwork(NASNET_A, { cellsPerStack: 2, filters: 16 });
 * meta.name // '2@384'
 */
export function buildNetwork(genotype: Genotype, options: NetworkOptions = {}): BuiltNetwork {
  const g = validateGenotype(genotype);
  const o = resolveNetworkOptions(options, g);
  const train = assemble(g, o, true);
  const infer = assemble(g, o, false);
  const headParams = train.graph.params.map((p) => p.name).filter((n) => n.startsWith('head/fc/') || n.startsWith('aux/fc/'));
  const meta: NetworkMeta = {
    options: o,
    name: `${o.cellsPerStack}@${train.features.output.channels}`,
    N: o.cellsPerStack,
    F: o.filters,
    penultimate: train.features.output.channels,
    cells: train.features.cells,
    features: train.features.output.id,
    logits: train.logits,
    auxLogits: train.auxLogits,
    auxCell: o.auxHead ? train.features.auxCell : null,
    headParams,
  };
  return { graph: train.graph, inference: infer.graph, meta };
}
