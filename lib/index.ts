/**
 * nasnet: neural architecture search (NASNet) for Node.js.
 *
 * Named exports only; importing has no side effects (the addon loads on first use).
 */
export { type BackendName, type BackendsReport, backends, formatBackends } from './backends.js';
export { addonCandidates, loadBinding } from './binding.js';
export type {
  Binding,
  NativeEvalResult,
  NativeInfo,
  NativePlanDescription,
  NativeStepResult,
  NativeTensor,
  NodeProfile,
  StepHyper,
} from './binding-types.js';
export * from './cells/index.js';
export * from './controller/index.js';
export { type Dashboard, type DashboardOptions, startDashboard } from './dashboard/server.js';
export * from './data/index.js';
export { type CachedMemory, cachedMemory, releaseCachedMemory, setCachedMemoryLimit } from './engine/memory.js';
export { Plan, type PlanOptions, type ProfileSummaryRow, StagedBatch, summarizeProfile } from './engine/plan.js';
export { ParameterStore } from './engine/store.js';
export { AddonLoadError, BackendUnavailableError, DataError, NativeError, ValidationError } from './errors.js';
export { type NamedTensor, readSafetensors, type SafetensorsContents, writeSafetensors } from './io/safetensors.js';
export { inferShapes } from './ir/shapes.js';
export * from './ir/types.js';
export { validateGraph } from './ir/validate.js';
export { exportOnnx, type OnnxExportOptions, type TensorSource, writeOnnx } from './onnx/export.js';
export { type BullmqExecutor, type BullmqExecutorOptions, createBullmqExecutor } from './search/bullmq-executor.js';
export { PAPER_PROXY, type ResolvedShared, type SharedOptions } from './search/config.js';
export type { ChildExecutor } from './search/executor.js';
export { type HalvingSchedule, type PlainSchedule, promotes, type RungRecord, rungProxies, type Schedule } from './search/halving.js';
export { createLocalExecutor, type LocalExecutorOptions } from './search/local-executor.js';
export { PlanCache, type PlanCacheOptions, type PlanCacheStats } from './search/plan-cache.js';
export { type RewardSeries, rewardPlotSvg } from './search/plot.js';
export { type ExecutorSpec, type SearchOptions, type SearchResult, type SharedSummary, searchCells } from './search/search.js';
export { formatStatus, type QueueStatus, queueStatus } from './search/status.js';
export { childKey, frozenGraph, type SharedScore, SharedSupernet, type SupernetOptions } from './search/supernet.js';
export type { ChildJob, ChildResult, HistoryEntry, ProxyConfig } from './search/types.js';
export { type RunningWorker, startWorker, type WorkerOptions } from './search/worker.js';
export { type CheckpointMeta, loadCheckpoint, readCheckpoint, saveCheckpoint } from './train/checkpoint.js';
export { type Preprocessing, RECIPES, type Recipe, type ResolvedRecipe, recipe, scaledLearningRate } from './train/recipes.js';
export { cosineLr, DROP_PATH_MODES, type DropPathMode, dropPathRate, dropPathScalesWithDepth, exponentialLr } from './train/schedule.js';
export { formatSetup, setupSummary, setupTraining, type TrainingHyper, type TrainingSetup } from './train/setup.js';
export { type EpochMetrics, runTraining, type TrainOptions, type TrainResult, train } from './train/train.js';
export {
  type NetworkCounts,
  resolveTarget,
  TRANSFER_TARGETS,
  type TransferOptions,
  type TransferResult,
  type TransferTarget,
  transfer,
} from './train/transfer.js';
export { Rng, type RngState } from './util/rng.js';
