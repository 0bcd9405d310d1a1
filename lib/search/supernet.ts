/**
 * The shared weights of a weight-sharing search (ENAS, Pham et al. 2018): one
 * {@link ParameterStore} that every child binds by name. Children are built with the 'shared'
 * wiring (lib/cells/wiring.ts), so a parameter's shape depends only on its name
 * (`cell3/block1/left/sep_conv_5x5/dw1/W`: cell, block, input slot, op): two children that place the
 * same op at the same position train and read the same tensors.
 *
 * Each distinct child gets up to two plans, compiled on first use and kept in a bounded LRU cache
 * ({@link PlanCache}): a training plan (one SGD step of the shared weights on a minibatch) and a
 * scoring plan. Scoring uses batch statistics, as ENAS's reward does (`build_valid_rl` runs the
 * shared model with `is_training=True`): the running BN statistics of a position are mixed over every
 * child that used it and describe none of them. The engine has no "evaluate with batch statistics"
 * call, so the scoring plan is the child's training graph with every parameter frozen
 * (`trainable: false`, so no gradient is computed and nothing is updated) and BN momentum 1 (the
 * running statistics stay as they are): its `trainStep` is then a forward pass that reads the store
 * and returns the loss and the correct count, nothing more.
 */

import { BACKEND_CHOICES, type BackendChoice } from '../backends.js';
import type { NativeStepResult, StepHyper } from '../binding-types.js';
import { validateGenotype } from '../cells/genotype.js';
import type { Genotype } from '../cells/genotype-types.js';
import { type BuiltNetwork, buildNetwork, type NetworkOptions } from '../cells/network.js';
import { Plan } from '../engine/plan.js';
import { ParameterStore } from '../engine/store.js';
import type { IrGraph } from '../ir/types.js';
import { checkChoice, checkInteger } from '../util/check.js';
import { PlanCache, type PlanCacheOptions, type PlanCacheStats } from './plan-cache.js';

/** Options of a {@link SharedSupernet}. */
export interface SupernetOptions {
  /** The child network: N, F, stem multiplier, classes, input size and channels. Wiring, auxiliary head and DropPath are set here (shared, off, off). */
  network: NetworkOptions;
  /** Images per training step. */
  batchSize: number;
  /** Images per scoring call. */
  scoreBatch: number;
  /** Seed of the parameters' initialization; default 0. */
  seed?: number;
  /** Bounds of the plan cache; default 32 plans, 1 GiB. */
  cache?: PlanCacheOptions;
  /** The store to share; default a new one. */
  store?: ParameterStore;
  /** Where the plans run: 'cpu' (default), 'cuda' or 'auto'. */
  backend?: BackendChoice;
}

/** A child's score on one batch with the shared weights. */
export interface SharedScore {
  correct: number;
  loss: number;
  /** correct / batch. */
  accuracy: number;
}

/**
 * A training graph whose step only reads: every parameter frozen (no gradients, no update) and every
 * BatchNormalization with momentum 1 (its running statistics unchanged), so a `trainStep` of its plan
 * is a forward pass with batch statistics.
 *
 * @param graph - a training graph (with its loss)
 * @example
 * const score = await Plan.compile(frozenGraph(net.graph), store, { batch: 256 });
 * const { correct } = await score.trainStep(images, labels, { lr: 0 });
 */
export function frozenGraph(graph: IrGraph): IrGraph {
  return {
    ...graph,
    params: graph.params.map((p) => ({ ...p, trainable: false })),
    nodes: graph.nodes.map((n) => (n.op === 'BatchNormalization' ? { ...n, attrs: { ...n.attrs, momentum: 1 } } : n)),
  };
}

/** The exact key of a child (its left/right slots matter here: they name different weights). */
export function childKey(genotype: Genotype): string {
  return JSON.stringify(validateGenotype(genotype));
}

/**
 * Shared weights for a search: train them one minibatch at a time on any child, score any child on
 * a batch with them. Plans are cached per distinct child.
 *
 * @example
 * const net = new SharedSupernet({ network: { cellsPerStack: 1, filters: 8, numClasses: 10, inputSize: 28, inputChannels: 1 }, batchSize: 32, scoreBatch: 256 });
 * await net.trainStep(childA, images, labels, { lr: 0.05, momentum: 0.9 });
 * const { accuracy } = await net.score(childB, valImages, valLabels); // childB reads what childA trained where they agree
 * net.stats().hitRate;
 * net.dispose();
 */
export class SharedSupernet {
  /** The shared parameters (and their optimizer state and BN running statistics). */
  readonly store: ParameterStore;
  private readonly network: NetworkOptions;
  private readonly batchSize: number;
  private readonly scoreBatch: number;
  private readonly seed: number;
  private readonly cache: PlanCache<Plan>;
  private readonly backend: BackendChoice;

  /** @param options - network, batch sizes, seed, cache bounds */
  constructor(options: SupernetOptions) {
    this.network = { ...options.network, wiring: 'shared', auxHead: false, dropPath: false };
    this.batchSize = checkInteger(options.batchSize, 'batchSize');
    this.scoreBatch = checkInteger(options.scoreBatch, 'scoreBatch');
    this.seed = checkInteger(options.seed ?? 0, 'seed', { min: 0 });
    this.cache = new PlanCache<Plan>(options.cache);
    this.store = options.store ?? new ParameterStore();
    this.backend = checkChoice(options.backend ?? 'cpu', 'backend', BACKEND_CHOICES);
  }

  /** The child's network in the shared wiring (what its plans run). */
  build(genotype: Genotype): BuiltNetwork {
    return buildNetwork(genotype, this.network);
  }

  private plan(genotype: Genotype, kind: 'train' | 'score'): Plan {
    return this.cache.get(`${kind}:${childKey(genotype)}`, () => {
      const graph = this.build(genotype).graph;
      const training = kind === 'train';
      const plan = Plan.compileSync(training ? graph : frozenGraph(graph), this.store, {
        batch: training ? this.batchSize : this.scoreBatch,
        seed: this.seed,
        backend: this.backend,
      });
      // Activations, plus the gradient buffer of every parameter for a training plan.
      const gradBytes = training ? graph.params.reduce((a, p) => a + 4 * p.shape.reduce((x, y) => x * y, 1), 0) : 0;
      return { value: plan, bytes: plan.description.activationBytes + gradBytes };
    });
  }

  /**
   * One SGD step of the shared weights on `genotype`'s network (the weights it does not use are untouched).
   *
   * @param genotype - the child
   * @param images - batchSize × C × H × W
   * @param labels - batchSize labels
   * @param hyper - learning rate, momentum, weight decay, clipping, step
   */
  trainStep(genotype: Genotype, images: Float32Array, labels: Int32Array, hyper: StepHyper): Promise<NativeStepResult> {
    return this.plan(genotype, 'train').trainStep(images, labels, { ...hyper, dropPathRate: 0 });
  }

  /**
   * The child's accuracy and loss on one batch with the shared weights and batch statistics; reads
   * the store, changes nothing.
   *
   * @param genotype - the child
   * @param images - scoreBatch × C × H × W
   * @param labels - scoreBatch labels
   */
  async score(genotype: Genotype, images: Float32Array, labels: Int32Array): Promise<SharedScore> {
    const r = await this.plan(genotype, 'score').trainStep(images, labels, { lr: 0 });
    return { correct: r.correct, loss: r.loss, accuracy: r.correct / this.scoreBatch };
  }

  /** Plan-cache hits, misses, evictions, compile time, entries and bytes held. */
  stats(): PlanCacheStats {
    return this.cache.stats();
  }

  /** Disposes of every cached plan (the store stays usable). */
  dispose(): void {
    this.cache.clear();
  }
}
