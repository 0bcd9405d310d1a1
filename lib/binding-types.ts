/**
 * The declared interface of the native addon: what `info()` reports (native/napi_info.cc) and the
 * engine classes (native/napi_engine.cc). lib/binding.ts casts the loaded addon to {@link Binding};
 * lib/engine/*.ts wrap the engine classes with validation and documentation.
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
  backend: 'auto' | 'cpu' | 'cuda';
  device: number;
  graphs: boolean;
  emaDecay: number;
  useEma: boolean;
  imageParallel: boolean;
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

/**
 * Hyper-parameters of one training step, passed to the native step as they are; schedules (cosine
 * LR, ScheduledDropPath) live in TypeScript and compute them.
 */
export interface StepHyper {
  /** Learning rate. */
  lr: number;
  /** SGD (or RMSProp) momentum; default 0.9. */
  momentum?: number;
  /** Nesterov momentum (SGD); default false. */
  nesterov?: boolean;
  /** L2 weight decay on parameters flagged for it (not BN, not biases); default 0. */
  weightDecay?: number;
  /** Clip the global gradient norm to this; 0 (default) = off. */
  clipNorm?: number;
  /** RMSProp decay; default 0.9. */
  rmsDecay?: number;
  /** RMSProp epsilon; default 1.0 (TF-slim NASNet). */
  rmsEpsilon?: number;
  /** DropPath base rate of this step: a DropPath node drops with rate × its layer ratio; default 0. */
  dropPathRate?: number;
  /** Step counter: selects this step's random masks; default 0. */
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
  /** DropPath nodes run as the epilogue of the Add that reads them (masks applied as it sums). */
  fusedDropPaths: number;
  /** Inference plans: `Pad → Slice → strided 1×1 Conv` (the shifted path of a factorized reduction) run as the Conv alone, reading the shifted input in place. */
  fusedShifts: number;
  /** Inference plans: strided 1×1 Convs that apply the ReLU of a Relu node absorbed into its readers (fused chains and these Convs, which sample a quarter of it), so the Relu's output is never stored. */
  reluStridedConvs: number;
  /** Inference plans: Adds that run the fused chain producing one of their inputs, adding the other input as the chain's results are stored (the chain's own output never stored). */
  fusedAdds: number;
  /** Inference plans: Concat inputs that the fused chains producing them write straight into their slice of the Concat's output (never copied). */
  concatInPlace: number;
  /** Identity/Flatten outputs, and DropPath/Dropout run in place, that share their input's buffer instead of copying it. */
  aliasedTensors: number;
  /** Gradients that Add/Identity/Flatten backward hands through in the same buffer instead of copying. */
  aliasedGradients: number;
  /** Image-parallel inference: lanes running whole images at once (one per CPU thread), 0 when the plan runs its batch as one. */
  imageLanes: number;
  /** Most images per run of a lane (0 without lanes). */
  laneBatch: number;
  /** Runs the batch is split into: `laneBatch` images each, then fewer towards the end so the lanes finish together (0 without lanes). */
  laneRuns: number;
  /** A batch of 1 on the CPU with 2+ threads: threads running its independent nodes (a cell's branches) at once; 0 otherwise. */
  nodeWorkers: number;
  params: string[];
  /** With `describe({ shapes: true })`: every tensor's shape by name (graph inputs, then node ids). */
  shapes?: Record<string, number[]>;
  /** The backend the plan runs on: `cpu` or `cuda`. */
  backend: 'cpu' | 'cuda';
  /** The device in words, e.g. `cpu (avx512, 2 threads)`, `cuda:0 NVIDIA H200 (sm_90, 139.8 GiB), cuDNN`. */
  device: string;
  /** Why `backend: 'auto'` did not take CUDA (empty when it did, or another backend was asked for). */
  notice: string;
  /** Whether steps replay as CUDA graphs, per kind of step, and why not. */
  graphs: string;
}

/** The native Plan: a graph compiled for one batch size and mode. */
export interface NativePlanInstance {
  /** A number: the batch `stage()` returned (the labels argument is then ignored). */
  trainStep(images: Float32Array | number, labels: Int32Array | undefined, hyper: StepHyper): Promise<NativeStepResult>;
  evaluate(images: Float32Array | number, labels?: Int32Array): Promise<NativeEvalResult>;
  predict(images: Float32Array | number): Promise<Float32Array>;
  /** Copies the next step's batch into a free input slot (uploading it on the copy stream on CUDA); its number. */
  stage(images: Float32Array, labels?: Int32Array): number;
  describe(options?: { shapes?: boolean }): NativePlanDescription;
  profile(): NodeProfile[];
  resetProfile(): void;
  dispose(): void;
}

/** The engine part of the addon. */
export interface NativeEngine {
  NativeStore: new () => NativeStoreInstance;
  NativePlan: new (store: NativeStoreInstance, irJson: string, options: NativePlanOptions) => NativePlanInstance;
  /** Compiles in a worker thread (the store's steps wait). */
  compilePlan(store: NativeStoreInstance, irJson: string, options: NativePlanOptions): Promise<NativePlanInstance>;
}

/** A CUDA device as the runtime reports it. */
export interface NativeCudaDevice {
  index: number;
  name: string;
  /** Bytes of device memory. */
  totalMemory: number;
  /** e.g. "9.0" */
  computeCapability: string;
  multiprocessors: number;
}

/** What the native build can do (`binding.info()`). */
export interface NativeInfo {
  version: string;
  cpu: { simd: 'avx512' | 'avx2' | 'portable'; threads: number };
  cuda: {
    compiled: boolean;
    architectures: string;
    toolkitVersion: string;
    runtimeVersion: number;
    driverVersion: number;
    devices: NativeCudaDevice[];
    reason: string;
  };
  cudnn: { available: boolean; path: string; version: number; reason: string; tried: string[] };
}

/** The CPU backend's cache of freed host blocks (native/cpu/host_blocks.h). */
export interface NativeCachedMemory {
  bytes: number;
  blocks: number;
  limit: number;
  reused: number;
  fresh: number;
}

/** The functions the addon exports. */
export interface Binding extends NativeEngine {
  info(): NativeInfo;
  cachedMemory(): NativeCachedMemory;
  releaseCachedMemory(): void;
  setCachedMemoryLimit(bytes: number): void;
}
