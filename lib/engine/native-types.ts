/**
 * Types of the engine classes the addon exports (native/napi_engine.cc). lib/binding.ts merges
 * them into the Binding interface; lib/engine/*.ts wraps them with validation and documentation.
 */

/** A tensor read from the store. */
export interface NativeTensor {
  data: Float32Array;
  shape: number[];
}

/** The native ParameterStore: named float32 tensors shared by every plan bound to it. */
export interface NativeStoreInstance {
  names(): string[];
  get(name: string): NativeTensor | undefined;
  set(name: string, data: Float32Array, shape?: number[]): void;
  remove(name: string): boolean;
}

/** Options of a native plan. */
export interface NativePlanOptions {
  batch: number;
  training: boolean;
  seed: number;
  optimizer: 'sgd' | 'rmsprop';
  fuse: boolean;
  profile: boolean;
}

/** Time spent in one node of a plan compiled with `profile: true`. */
export interface NodeProfile {
  /** The node's id (a fused chain is reported under its BatchNormalization node), or `(optimizer)`. */
  id: string;
  /** What ran: `Conv depthwise 5x5 s2`, `FusedConvBn relu+dw3x3+pw`, `MaxPool 3x3 s2`, `SGD update`, ... */
  kind: string;
  forwardMs: number;
  backwardMs: number;
  forwardCalls: number;
  backwardCalls: number;
}

/** Per-step hyper-parameters (schedules live in TypeScript). */
export interface NativeStepHyper {
  lr: number;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  clipNorm?: number;
  rmsDecay?: number;
  rmsEpsilon?: number;
  dropPathRate?: number;
  step?: number;
}

/** What a training step returns. */
export interface NativeStepResult {
  loss: number;
  correct: number;
  gradNorm: number;
}

/** What an evaluation returns. */
export interface NativeEvalResult {
  loss: number;
  correct: number;
}

/** Static facts of a compiled plan. */
export interface NativePlanDescription {
  inputShape: number[];
  classes: number;
  activationBytes: number;
  naiveActivationBytes: number;
  /** Repeated parameter-free nodes merged into an earlier identical one. */
  mergedNodes: number;
  /** `[ReLU →] [depthwise →] pointwise → BatchNormalization` chains run as one fused kernel. */
  fusedChains: number;
  /** Identity/Flatten outputs, and DropPath/Dropout run in place, that share their input's buffer instead of copying it. */
  aliasedTensors: number;
  /** Gradients that Add/Identity/Flatten backward hands through in the same buffer instead of copying. */
  aliasedGradients: number;
  params: string[];
}

/** The native Plan: a graph compiled for one batch size and mode. */
export interface NativePlanInstance {
  trainStep(images: Float32Array, labels: Int32Array, hyper: NativeStepHyper): Promise<NativeStepResult>;
  evaluate(images: Float32Array, labels: Int32Array): Promise<NativeEvalResult>;
  predict(images: Float32Array): Promise<Float32Array>;
  describe(): NativePlanDescription;
  profile(): NodeProfile[];
  resetProfile(): void;
  dispose(): void;
}

/** The engine part of the addon. */
export interface NativeEngine {
  NativeStore: new () => NativeStoreInstance;
  NativePlan: new (store: NativeStoreInstance, irJson: string, options: NativePlanOptions) => NativePlanInstance;
}
