import { BACKEND_CHOICES, type BackendName } from '../backends.js';
import { binding } from '../binding.js';
import type {
  NativeEvalResult,
  NativePlanDescription,
  NativePlanInstance,
  NativePlanOptions,
  NativeStepResult,
  NodeProfile,
  StepHyper,
} from '../binding-types.js';
import { NativeError, ValidationError } from '../errors.js';
import type { ShapeMap } from '../ir/shapes.js';
import type { IrGraph } from '../ir/types.js';
import { checkBoolean, checkChoice, checkInteger, checkNumber } from '../util/check.js';
import { awaitNativeStep } from './native-step.js';
import type { ParameterStore } from './store.js';

/** Options of {@link Plan.compile}. */
export interface PlanOptions {
  /** Batch size: the `N` of every symbolic batch dimension. */
  batch: number;
  /** Compile the training graph (batch statistics, DropPath, loss, optimizer); default true. */
  training?: boolean;
  /** Seed of parameter initialization and of DropPath/Dropout masks; default 0. */
  seed?: number;
  /** Optimizer run inside `trainStep`; default 'sgd'. */
  optimizer?: 'sgd' | 'rmsprop';
  /**
   * Plan-level fusion; default true. Every `[ReLU →] [depthwise →] pointwise → BatchNormalization`
   * chain (the units of NASNet's separable convolutions and ReLU-conv-BN 1×1s) runs as one kernel that
   * keeps each image in cache between the stages and never stores the ReLU output or the
   * intermediate gradients; Identity and Flatten share their input's memory, and DropPath and Dropout
   * work in place where their input has no other use. `false` runs every node on its own kernel:
   * the reference the fused plans are tested against, and the baseline of `bench/step.ts --fusion`.
   */
  fuse?: boolean;
  /**
   * Time every node's forward and backward and the optimizer update, read with {@link Plan.profile};
   * default false (timing costs two clock reads per node).
   */
  profile?: boolean;
  /**
   * Where the plan runs; default 'cpu'. 'auto' takes CUDA when a device is usable and otherwise the
   * CPU, saying why in {@link Plan.description}`.notice` (never an exception); 'cuda' fails with the
   * reason when no device is usable. On CUDA, parameters, gradients, optimizer state and BN
   * statistics live on the device and are synced at `store.get/set`, checkpoints and `dispose()`.
   */
  backend?: BackendName | 'auto';
  /** CUDA device index; default 0. */
  device?: number;
  /**
   * CUDA graphs; default true: each kind of step (train, evaluate, predict) runs eagerly once, is
   * captured on its next run in each of the plan's two input slots (one graph per slot, see
   * {@link Plan.stage}) and replayed from then on. `false` launches every kernel each step.
   */
  graphs?: boolean;
  /**
   * Training plans: parameter exponential moving average decay, 0 = off (default). Every parameter
   * of the graph (weights and BN running statistics) gets a shadow `<name>#ema` in the store,
   * created equal to the parameter and updated inside each `trainStep` after the optimizer (on the
   * plan's backend), as TensorFlow's `ExponentialMovingAverage(decay, num_updates = step)`:
   * `shadow = d × shadow + (1 − d) × value`, `d = min(decay, (1 + step) / (10 + step))`.
   * Checkpoints of the store keep the shadows.
   */
  ema?: number;
  /** Inference plans: read every parameter from its `<name>#ema` shadow (evaluate and predict with the averages); default false. */
  useEma?: boolean;
  /**
   * Inference plans on the CPU with 2+ threads: image-parallel lanes; default true. Each thread takes
   * a few whole images at a time (4, fewer towards the end of the batch) through the whole network with serial
   * kernels, on its own plan of the graph for that many images sharing the store's parameters,
   * instead of every node splitting the batch over the threads and meeting at a barrier; a batch of
   * 1 runs its independent nodes (a cell's branches) at once, each on one thread. Each image's logits
   * are the same floats as with `false` (no kernel mixes images at inference); `evaluate`'s loss is
   * the image-weighted mean of the runs' losses (equal up to rounding). {@link Plan.description}
   * `.imageLanes`, `.laneRuns` and `.nodeWorkers` say how it splits. Ignored by training plans and on CUDA.
   *
   * @example
   * const plan = await Plan.compile(network.inference, store, { batch: 64, training: false });
   * plan.description.imageLanes; // 2 on a 2-thread CPU: two threads, each running 4 images at a time
   * const logits = await plan.predict(images);
   */
  imageParallel?: boolean;
}

/**
 * A batch handed to a plan ahead of its step by {@link Plan.stage}: the plan already holds a copy
 * (in pinned host memory on CUDA, where its upload runs on a copy stream while the current step
 * computes). Pass it to the plan's next `trainStep`, `evaluate` or `predict`; each staged batch runs
 * once.
 */
export class StagedBatch {
  /** @internal */
  constructor(
    /** @internal the plan's number for the batch */
    readonly id: number,
    /** Whether labels were staged (needed by trainStep and evaluate). */
    readonly hasLabels: boolean,
    /** @internal the plan that staged it */
    readonly owner: object,
  ) {}
}

/** Time per kind of node, summed over a {@link Plan.profile}: the table `bench/step.ts --profile` prints. */
export interface ProfileSummaryRow {
  kind: string;
  nodes: number;
  forwardMs: number;
  backwardMs: number;
  /** Share of the total time of all rows, in [0, 1]. */
  share: number;
}

/**
 * Sums a profile by `kind` (e.g. all `Conv depthwise 5x5` nodes), slowest first.
 *
 * @example
 * const plan = await Plan.compile(graph, store, { batch: 64, profile: true });
 * for (let i = 0; i < 10; i++) await plan.trainStep(images, labels, { lr: 0.025, step: i });
 * console.table(summarizeProfile(plan.profile()));
 */
export function summarizeProfile(profile: readonly NodeProfile[]): ProfileSummaryRow[] {
  const rows = new Map<string, ProfileSummaryRow>();
  let total = 0;
  for (const p of profile) {
    const row = rows.get(p.kind) ?? { kind: p.kind, nodes: 0, forwardMs: 0, backwardMs: 0, share: 0 };
    row.nodes += 1;
    row.forwardMs += p.forwardMs;
    row.backwardMs += p.backwardMs;
    total += p.forwardMs + p.backwardMs;
    rows.set(p.kind, row);
  }
  const out = [...rows.values()];
  for (const r of out) r.share = total > 0 ? (r.forwardMs + r.backwardMs) / total : 0;
  return out.sort((a, b) => b.forwardMs + b.backwardMs - (a.forwardMs + a.backwardMs));
}

/** Checks {@link PlanOptions} and fills in the defaults. */
function nativeOptions(options: PlanOptions): NativePlanOptions {
  const batch = checkInteger(options.batch, 'batch');
  const seed = checkInteger(options.seed ?? 0, 'seed', { min: 0 });
  const optimizer = checkChoice(options.optimizer ?? 'sgd', 'optimizer', ['sgd', 'rmsprop'] as const);
  const backend = checkChoice(options.backend ?? 'cpu', 'backend', BACKEND_CHOICES);
  const device = checkInteger(options.device ?? 0, 'device', { min: 0 });
  const training = checkBoolean(options.training ?? true, 'training');
  const fuse = checkBoolean(options.fuse ?? true, 'fuse');
  const profile = checkBoolean(options.profile ?? false, 'profile');
  const graphs = checkBoolean(options.graphs ?? true, 'graphs');
  const emaDecay = checkNumber(options.ema ?? 0, 'ema', { min: 0, max: 1, maxOpen: true });
  const useEma = checkBoolean(options.useEma ?? false, 'useEma');
  const imageParallel = checkBoolean(options.imageParallel ?? true, 'imageParallel');
  return { batch, training, seed, optimizer, fuse, profile, backend, device, graphs, emaDecay, useEma, imageParallel };
}

/** A native compile failure as a ValidationError (bad graph or options) or a NativeError. */
function compileError(err: unknown): Error {
  const e = err as Error & { code?: string };
  if (e.code === 'ERR_NASNET_INVALID' || e.code === 'ERR_NASNET_RANGE') return new ValidationError(e.message);
  return new NativeError(e.message);
}

/**
 * A graph IR compiled by the native engine for one batch size and mode. One call runs a whole
 * forward, backward and optimizer update off the JS thread.
 *
 * @example
 * const store = new ParameterStore();
 * const plan = await Plan.compile(graph, store, { batch: 64, seed: 1 });
 * const { loss, correct } = await plan.trainStep(images, labels, { lr: 0.025, weightDecay: 5e-4 });
 * plan.dispose();
 *
 * @example Overlapping the next batch's copy with the current step (as pin_memory + non_blocking in PyTorch)
 * let staged = plan.stage(batches[0].images, batches[0].labels);
 * for (let i = 0; i < batches.length; i++) {
 *   const step = plan.trainStep(staged, { lr: 0.025, step: i });      // runs on the staged batch
 *   if (i + 1 < batches.length) staged = plan.stage(batches[i + 1].images, batches[i + 1].labels); // while it runs
 *   await step;
 * }
 */
export class Plan {
  private native: NativePlanInstance | undefined;
  /** Shapes and memory facts of the compiled plan. */
  readonly description: NativePlanDescription;

  private constructor(native: NativePlanInstance) {
    this.native = native;
    this.description = native.describe();
  }

  /**
   * Compiles `graph` for `options.batch` in a worker thread, so the JS thread stays free while a
   * large graph compiles (shape inference, memory planning, parameter creation and, on CUDA, their
   * upload). Parameters the store lacks are created (initialized from their IR init spec and the
   * seed); those it has are shared.
   *
   * @param graph - the network as IR (see lib/ir/types.ts)
   * @param store - where parameters live
   * @param options - batch size, mode, seed, optimizer, backend
   * @returns (resolves to) the compiled plan
   * @throws (rejects with) ValidationError naming the node and field when the graph is invalid
   *
   * @example
   * const plan = await Plan.compile(graph, store, { batch: 64, backend: 'auto' });
   */
  static async compile(graph: IrGraph, store: ParameterStore, options: PlanOptions): Promise<Plan> {
    const native = nativeOptions(options);
    const json = JSON.stringify(graph);
    try {
      return new Plan(await binding().compilePlan(store.native, json, native));
    } catch (err) {
      throw compileError(err);
    }
  }

  /**
   * {@link Plan.compile} on the calling thread, for callers that cannot await (a constructor, a
   * synchronous API). Blocks the JS thread for the whole compilation.
   *
   * @example
   * const plan = Plan.compileSync(graph, store, { batch: 32 });
   */
  static compileSync(graph: IrGraph, store: ParameterStore, options: PlanOptions): Plan {
    const native = nativeOptions(options);
    try {
      return new Plan(new (binding().NativePlan)(store.native, JSON.stringify(graph), native));
    } catch (err) {
      throw compileError(err);
    }
  }

  /** Input shape [batch, C, H, W]. */
  get inputShape(): number[] {
    return this.description.inputShape;
  }

  /** Number of classes of outputs[0]. */
  get classes(): number {
    return this.description.classes;
  }

  private live(): NativePlanInstance {
    if (!this.native) throw new ValidationError('plan was disposed');
    return this.native;
  }

  private checkImages(images: Float32Array): void {
    if (!(images instanceof Float32Array)) throw new ValidationError('Expected Float32Array for images');
    const want = this.inputShape.reduce((a, b) => a * b, 1);
    if (images.length !== want) {
      throw new ValidationError(`Expected images of length ${want} (${this.inputShape.join('×')}) but received ${images.length}`);
    }
  }

  private checkLabels(labels: Int32Array): void {
    if (!(labels instanceof Int32Array)) throw new ValidationError('Expected Int32Array for labels');
    const n = this.inputShape[0];
    if (labels.length !== n) throw new ValidationError(`Expected labels of length ${n} but received ${labels.length}`);
    for (let i = 0; i < n; i++) {
      if (labels[i] < 0 || labels[i] >= this.classes) {
        throw new ValidationError(`labels[${i}] = ${labels[i]} is outside [0, ${this.classes})`);
      }
    }
  }

  /** The native number of a batch this plan staged (a wrong batch is a ValidationError). */
  private stagedId(batch: StagedBatch, needsLabels: boolean, what: string): number {
    if (batch.owner !== this) throw new ValidationError(`${what}: the staged batch belongs to another plan`);
    if (needsLabels && !batch.hasLabels) {
      throw new ValidationError(`${what}: the staged batch has no labels (stage it with labels to train or evaluate on it)`);
    }
    return batch.id;
  }

  /** Runs a synchronous native call; its errors become ValidationErrors (misuse) or NativeErrors. */
  private nativeCall<T>(what: string, call: () => T): T {
    try {
      return call();
    } catch (err) {
      const e = err as Error & { code?: string };
      if (e instanceof RangeError || e instanceof TypeError || e.code === 'ERR_NASNET_MISUSE' || e.code === 'ERR_NASNET_INVALID' || e.code === 'ERR_NASNET_RANGE') {
        throw new ValidationError(`${what}: ${e.message}`);
      }
      throw new NativeError(`${what}: ${e.message}`);
    }
  }

  /**
   * Hands the next step's batch to the plan ahead of time, as `pin_memory()` plus
   * `.to(device, non_blocking=True)` do in PyTorch. The arrays are copied at once into a free input
   * slot of the plan (the caller may reuse them as soon as this returns); on CUDA that slot is
   * pinned host memory and its upload to the device starts on a copy stream, so it overlaps the
   * step running now, and the step that takes the batch waits for the upload on the device (an
   * event), not on the host. The plan has two input slots: one for the running step, one for the
   * staged batch. On the CPU the step reads the slot in place.
   *
   * One batch at a time: staging again before a step took the staged batch is a ValidationError,
   * as is a batch of the wrong shape or with a label outside [0, classes). `dispose()` drops a
   * batch no step took.
   *
   * @param images - batch × C × H × W floats, NCHW
   * @param labels - batch class indices in [0, classes); omit for a batch only `predict` will run
   * @returns the staged batch, to pass to `trainStep`, `evaluate` or `predict`
   * @throws ValidationError for a wrong argument, a batch already staged, or a disposed plan
   *
   * @example
   * let staged = plan.stage(first.images, first.labels);
   * for (let i = 0; i < steps; i++) {
   *   const step = plan.trainStep(staged, { lr: 0.025, step: i });
   *   const next = loader.next();                                      // the next batch, while the step runs
   *   if (next) staged = plan.stage(next.images, next.labels);
   *   await step;
   * }
   */
  stage(images: Float32Array, labels?: Int32Array): StagedBatch {
    const plan = this.live();
    this.checkImages(images);
    if (labels !== undefined) this.checkLabels(labels);
    const id = this.nativeCall('stage', () => plan.stage(images, labels));
    return new StagedBatch(id, labels !== undefined, this);
  }

  /**
   * One training step: forward (batch statistics, DropPath), loss, backward, clipping, update.
   *
   * @param images - batch × C × H × W floats, NCHW; or a batch {@link Plan.stage} handed over (then `labels` is omitted)
   * @param labels - batch class indices in [0, classes)
   * @param hyper - this step's learning rate, regularization and DropPath rate
   * @returns the mean loss, the number of correct top-1 predictions, and the gradient norm before clipping
   * @throws (rejects with) ValidationError for a wrong argument, a staged batch already run, or a busy/disposed plan; NativeError for an engine failure
   *
   * @example
   * await plan.trainStep(images, labels, { lr: 0.025, step: 0 });
   * await plan.trainStep(plan.stage(images, labels), { lr: 0.025, step: 1 });
   */
  async trainStep(images: Float32Array, labels: Int32Array, hyper: StepHyper): Promise<NativeStepResult>;
  async trainStep(batch: StagedBatch, hyper: StepHyper): Promise<NativeStepResult>;
  async trainStep(images: Float32Array | StagedBatch, labelsOrHyper: Int32Array | StepHyper, maybeHyper?: StepHyper): Promise<NativeStepResult> {
    const plan = this.live();
    const staged = images instanceof StagedBatch;
    const hyper = (staged ? labelsOrHyper : maybeHyper) as StepHyper;
    if (typeof hyper !== 'object' || hyper === null) throw new ValidationError('Expected object for hyper');
    const input = staged ? this.stagedId(images, true, 'trainStep') : images;
    if (!staged) {
      this.checkImages(images);
      this.checkLabels(labelsOrHyper as Int32Array);
    }
    checkNumber(hyper.lr, 'lr', { min: 0 });
    if (hyper.dropPathRate !== undefined) checkNumber(hyper.dropPathRate, 'dropPathRate', { min: 0, max: 1, maxOpen: true });
    if (hyper.step !== undefined) checkInteger(hyper.step, 'step', { min: 0 });
    const labels = staged ? undefined : (labelsOrHyper as Int32Array);
    return await awaitNativeStep('trainStep', () => plan.trainStep(input, labels, hyper));
  }

  /**
   * Loss and correct count with inference semantics (running BN statistics, no DropPath).
   *
   * @param images - batch × C × H × W floats, or a batch {@link Plan.stage} handed over with labels
   */
  async evaluate(images: Float32Array, labels: Int32Array): Promise<NativeEvalResult>;
  async evaluate(batch: StagedBatch): Promise<NativeEvalResult>;
  async evaluate(images: Float32Array | StagedBatch, labels?: Int32Array): Promise<NativeEvalResult> {
    const plan = this.live();
    if (images instanceof StagedBatch) {
      const id = this.stagedId(images, true, 'evaluate');
      return await awaitNativeStep('evaluate', () => plan.evaluate(id));
    }
    this.checkImages(images);
    this.checkLabels(labels as Int32Array);
    return await awaitNativeStep('evaluate', () => plan.evaluate(images, labels));
  }

  /**
   * Logits of outputs[0], batch × classes, with inference semantics.
   *
   * @param images - batch × C × H × W floats, or a batch {@link Plan.stage} handed over
   */
  async predict(images: Float32Array | StagedBatch): Promise<Float32Array> {
    const plan = this.live();
    if (images instanceof StagedBatch) {
      const id = this.stagedId(images, false, 'predict');
      return await awaitNativeStep('predict', () => plan.predict(id));
    }
    this.checkImages(images);
    return await awaitNativeStep('predict', () => plan.predict(images));
  }

  /**
   * Time spent per node since compile or {@link Plan.resetProfile}, in schedule order (nodes that ran,
   * then `(optimizer)`); sum it by kind with {@link summarizeProfile}.
   *
   * @throws ValidationError when the plan was compiled without `profile: true`, is busy or was disposed
   */
  profile(): NodeProfile[] {
    try {
      return this.live().profile();
    } catch (err) {
      throw new ValidationError((err as Error).message);
    }
  }

  /**
   * The shape of every tensor of the plan by name (graph inputs, then node ids), as the native
   * compiler's shape rules give it for this plan's batch; equal to `inferShapes` of its graph
   * (test/ir-shapes.test.ts holds the two to each other).
   *
   * @example (await Plan.compile(graph, store, { batch: 64 })).tensorShapes().get('head/fc') // [64, 10]
   */
  tensorShapes(): ShapeMap {
    return new Map(Object.entries(this.live().describe({ shapes: true }).shapes ?? {}));
  }

  /** Zeroes the times and counts of {@link Plan.profile}. */
  resetProfile(): void {
    try {
      this.live().resetProfile();
    } catch (err) {
      throw new ValidationError((err as Error).message);
    }
  }

  /**
   * Frees the plan's native memory. Parameters stay in the store (a CUDA plan writes what its steps
   * changed back first). A batch {@link Plan.stage} handed over that no step took is dropped (its
   * upload finishes first); passing it to a step afterwards is a ValidationError (`plan was disposed`).
   *
   * @throws ValidationError while a step runs (await it first); NativeError when writing parameters
   * back from the device failed (the plan is freed anyway)
   */
  dispose(): void {
    const native = this.native;
    if (!native) return;
    try {
      native.dispose();
    } catch (err) {
      const { message, code } = err as Error & { code?: string };
      if (code === 'ERR_NASNET_MISUSE') throw new ValidationError(message); // a step is running
      this.native = undefined;
      throw new NativeError(`dispose: ${message}`);
    }
    this.native = undefined;
  }
}
