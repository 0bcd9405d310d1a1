/**
 * Parameter and multiply-add counts from the IR, as the paper counts them.
 *
 * Convention (checked against the paper's Table 1 and 2, see test/counts.test.ts):
 * - only what the logits depend on: the nodes that are ancestors of `outputs[0]`, so the
 *   auxiliary head and the loss are excluded;
 * - params: trainable parameters only (conv and dense weights, dense biases, BN scale and bias;
 *   not the BN running mean and variance);
 * - mult-adds: `Conv` (out channels × in channels / group × kh × kw × output pixels) and `Gemm`
 *   (in × out) for one image. BN, ReLU, pooling, additions are not counted (BN folds into the convs).
 */

import { inferShapes } from '../ir/shapes.js';
import type { IrGraph } from '../ir/types.js';
import type { Genotype } from './genotype-types.js';
import { buildNetwork, type NetworkOptions } from './network.js';

/** Counts of a network. */
export interface Counts {
  /** Trainable parameters the logits depend on. */
  params: number;
  /** Multiply-adds of Conv and Gemm for one image. */
  multAdds: number;
  /** Every parameter the logits depend on, BN running statistics included. */
  paramsWithStats: number;
}

/**
 * Counts the parameters and multiply-adds of the part of `graph` that computes `outputs[0]`.
 * @param graph an IR graph (training or inference: the auxiliary head is not an ancestor of the logits)
 * @param output node whose ancestors are counted (default `graph.outputs[0]`, the logits)
 * @example countGraph(buildNetwork(NASNET_A).inference) // { params: 3.3e6, ... }
 */
export function countGraph(graph: IrGraph, output: string = graph.outputs[0]!): Counts {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const live = new Set<string>();
  const stack = [output];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (live.has(id)) continue;
    const n = byId.get(id);
    if (!n) continue;
    live.add(id);
    stack.push(...n.inputs);
  }
  const shapes = inferShapes(graph, 1);
  const params = new Map(graph.params.map((p) => [p.name, p]));
  const seen = new Set<string>();
  let trainable = 0;
  let all = 0;
  let multAdds = 0;
  for (const n of graph.nodes) {
    if (!live.has(n.id)) continue;
    for (const name of n.params ?? []) {
      if (seen.has(name)) continue;
      seen.add(name);
      const p = params.get(name)!;
      const size = p.shape.reduce((a, b) => a * b, 1);
      all += size;
      if (p.trainable) trainable += size;
    }
    if (n.op === 'Conv') {
      const w = params.get(n.params![0]!)!.shape;
      const out = shapes.get(n.id)!;
      multAdds += w[0]! * w[1]! * w[2]! * w[3]! * out[2]! * out[3]!;
    } else if (n.op === 'Gemm') {
      const w = params.get(n.params![0]!)!.shape;
      multAdds += w[0]! * w[1]!;
    }
  }
  return { params: trainable, multAdds, paramsWithStats: all };
}

/**
 * Counts a genotype's network without keeping it: builds the inference graph and calls {@link countGraph}.
 * @param genotype a genotype
 * @param options network options (defaults: CIFAR 6@768, 10 classes)
 * @example countGenotype(NASNET_A, presetOptions('nasnet-a-mobile')).multAdds // ≈ 564e6
 */
export function countGenotype(genotype: Genotype, options: NetworkOptions = {}): Counts {
  return countGraph(buildNetwork(genotype, { ...options, auxHead: false }).inference);
}
